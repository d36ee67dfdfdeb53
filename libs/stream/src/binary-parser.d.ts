/**
 * binary-parser ships typings, but its package.json "exports" has no "types" condition, so
 * TypeScript under nodenext cannot find them. This declares the part of its API we use.
 */
declare module 'binary-parser' {
  interface ParserOptions {
    length?: number;
  }
  export class Parser {
    endianness(e: 'little' | 'big'): this;
    uint32(name: string, options?: ParserOptions): this;
    uint64(name: string, options?: ParserOptions): this;
    buffer(name: string, options: ParserOptions): this;
    sizeOf(): number;
    parse(buffer: Buffer | Uint8Array): unknown;
  }
}
