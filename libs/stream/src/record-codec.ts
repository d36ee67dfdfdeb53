/** The contract every entry of the central record table fulfils. */
import type { PhaseNumber } from './constants.js';

export interface RecordCodec<T> {
  readonly type: number;
  readonly name: string;
  /** Body length bounds, checked from the record header before the body is read. */
  readonly minLength: number;
  readonly maxLength: number;
  /** The only phase the record may appear in; undefined = any phase (or none). */
  readonly phase?: PhaseNumber;
  /** How often the record may appear in one stream; undefined = unbounded. */
  readonly maxCount?: number;
  /** May appear between the first RAM_CHUNK and RAM_END. */
  readonly duringRam?: boolean;
  /**
   * When set, the reader computes crc32 over the body from this byte on while the body
   * arrives, and passes it to decode as `ctx.crc32`.
   */
  readonly crc32From?: number;
  /** Decode a body of `length` bytes held as slices; `at` is the body's byte offset. */
  decode(body: readonly Buffer[], length: number, at: number, ctx: DecodeContext): T;
  /** Encode to body slices; the writer adds framing and padding without concatenating. */
  encode(value: T): Buffer[];
  /** One-line description for stream-dump. */
  summary(value: T): string;
}

export interface DecodeContext {
  /** crc32 over the body from `crc32From` on, when the codec asks for it. */
  crc32?: number;
}

export type CodecValue<C> = C extends RecordCodec<infer T> ? T : never;

export function defineRecord<T>(codec: RecordCodec<T>): RecordCodec<T> {
  return codec;
}
