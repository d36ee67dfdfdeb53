/**
 * Exact-length reads of xl's fixed handshake strings from a byte stream, then hands the rest
 * (leftover first) to a StreamReader. Every read is bounded by the length asked for.
 */
import { XlError } from '../errors.js';
import { showBytes } from './protocol.js';

export type ByteIterable = AsyncIterable<Buffer | Uint8Array | string>;

export class ByteChannel {
  readonly #it: AsyncIterator<Buffer | Uint8Array | string>;
  #left: Buffer = Buffer.alloc(0);
  #eof = false;

  constructor(
    input: ByteIterable,
    readonly peer: string,
  ) {
    this.#it = input[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or fewer only if the input ended first. */
  async readUpTo(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    if (this.#left.length > 0) {
      const take = this.#left.subarray(0, n);
      this.#left = this.#left.subarray(take.length);
      parts.push(take);
      have = take.length;
    }
    while (have < n && !this.#eof) {
      let r: IteratorResult<Buffer | Uint8Array | string>;
      try {
        r = await this.#it.next();
      } catch (err) {
        throw new XlError(
          'XL_MIGRATION_HANDSHAKE',
          `reading from the ${this.peer} failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (r.done === true) {
        this.#eof = true;
        break;
      }
      const v = r.value;
      const b = Buffer.isBuffer(v)
        ? v
        : typeof v === 'string'
          ? Buffer.from(v)
          : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      const take = Math.min(n - have, b.length);
      parts.push(b.subarray(0, take));
      have += take;
      if (take < b.length) this.#left = b.subarray(take);
    }
    return Buffer.concat(parts, have);
  }

  /**
   * Reads `message.length` bytes and checks they are `message`. `what` names the step for the
   * error ("the banner", "the ready message", ...).
   */
  async expect(message: Buffer, what: string): Promise<void> {
    const got = await this.readUpTo(message.length);
    if (got.equals(message)) return;
    if (got.length === 0)
      throw new XlError(
        'XL_MIGRATION_HANDSHAKE',
        `the ${this.peer} closed the connection before sending ${what}`,
      );
    if (got.length < message.length && message.subarray(0, got.length).equals(got)) {
      throw new XlError(
        'XL_MIGRATION_HANDSHAKE',
        `the ${this.peer} closed the connection in the middle of ${what}`,
      );
    }
    throw new XlError(
      'XL_MIGRATION_HANDSHAKE',
      `the ${this.peer} sent ${showBytes(got)} where ${what} was expected`,
    );
  }

  /** Looks at the next n bytes without consuming them (fewer at end of input). */
  async peek(n: number): Promise<Buffer> {
    const got = await this.readUpTo(n);
    this.#left = this.#left.length > 0 ? Buffer.concat([got, this.#left]) : got;
    return got;
  }

  /** What is left, leftover first; the underlying iterator is never closed from here. */
  async *rest(): AsyncGenerator<Buffer> {
    if (this.#left.length > 0) {
      const b = this.#left;
      this.#left = Buffer.alloc(0);
      yield b;
    }
    while (!this.#eof) {
      const r = await this.#it.next();
      if (r.done === true) {
        this.#eof = true;
        return;
      }
      const v = r.value;
      yield Buffer.isBuffer(v)
        ? v
        : typeof v === 'string'
          ? Buffer.from(v)
          : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
}
