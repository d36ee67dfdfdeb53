/**
 * Pull-based access to an async stream of byte chunks (a Node Readable or any async iterable)
 * with exact-length reads that return slices of the incoming chunks, never copies.
 */
import { Readable } from 'node:stream';
import { StreamError, asStreamError } from './errors.js';
import { readableChunks } from './readable-chunks.js';

export type ByteInput = AsyncIterable<Buffer | Uint8Array | string>;

export class ByteSource {
  #iter: AsyncIterator<Buffer | Uint8Array | string>;
  #queue: Buffer[] = [];
  #head = 0;
  #buffered = 0;
  #eof = false;
  /** Bytes consumed so far. */
  offset = 0;
  /** The most bytes ever held at once (for tests of the allocation cap). */
  maxBuffered = 0;

  /** `readAhead`: for a Readable, bytes read ahead of the consumer before it is paused. */
  constructor(input: ByteInput, readAhead?: number) {
    this.#iter =
      input instanceof Readable
        ? readableChunks<Buffer | string>(input, readAhead)
        : input[Symbol.asyncIterator]();
  }

  get buffered(): number {
    return this.#buffered;
  }

  /** Make at least `n` bytes available; false when the input ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#eof) return false;
      let r: IteratorResult<Buffer | Uint8Array | string>;
      try {
        r = await this.#iter.next();
      } catch (err) {
        throw asStreamError(err, 'STREAM_IO', 'reading the input failed', {
          offset: this.offset + this.#buffered,
        });
      }
      if (r.done === true) {
        this.#eof = true;
        return this.#buffered >= n;
      }
      const v = r.value;
      const b = Buffer.isBuffer(v)
        ? v
        : typeof v === 'string'
          ? Buffer.from(v)
          : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (b.length > 0) {
        this.#queue.push(b);
        this.#buffered += b.length;
        if (this.#buffered > this.maxBuffered) this.maxBuffered = this.#buffered;
      }
    }
    return true;
  }

  /** Take exactly `n` buffered bytes as slices. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const b = this.#queue[this.#head] as Buffer;
      if (b.length <= need) {
        out.push(b);
        need -= b.length;
        this.#queue[this.#head] = undefined as unknown as Buffer;
        this.#head += 1;
      } else {
        out.push(b.subarray(0, need));
        this.#queue[this.#head] = b.subarray(need);
        need = 0;
      }
    }
    if (this.#head > 1024 || this.#head === this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#buffered -= n;
    this.offset += n;
    return out;
  }

  /**
   * Read exactly `n` bytes as slices, or throw STREAM_TRUNCATED naming `what`. `visit` sees
   * each slice as soon as it arrives (so a checksum runs while the rest is still in flight).
   */
  async read(n: number, what: string, visit?: (slice: Buffer) => void): Promise<Buffer[]> {
    if (visit === undefined && this.#buffered >= n) return this.take(n);
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      if (this.#buffered === 0 && !(await this.fill(1))) {
        throw new StreamError('STREAM_TRUNCATED', `input ends inside ${what}`, {
          offset: this.offset,
          expected: `${need} more bytes`,
          actual: 0,
        });
      }
      const got = this.take(Math.min(need, this.#buffered));
      for (const b of got) {
        visit?.(b);
        out.push(b);
      }
      need -= Math.min(need, totalOf(got));
    }
    return out;
  }

  /** Read exactly `n` bytes as one buffer (copies only when they span chunks). */
  async readContiguous(n: number, what: string): Promise<Buffer> {
    const parts = await this.read(n, what);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n);
  }

  /** Peek at up to `n` bytes without consuming them. */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    const want = Math.min(n, this.#buffered);
    const parts: Buffer[] = [];
    let have = 0;
    for (let i = this.#head; i < this.#queue.length && have < want; i++) {
      const b = (this.#queue[i] as Buffer).subarray(0, want - have);
      parts.push(b);
      have += b.length;
    }
    return Buffer.concat(parts, want);
  }

  /** Discard `n` bytes without holding more than one input chunk at a time. */
  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#buffered === 0 && !(await this.fill(1))) {
        throw new StreamError('STREAM_TRUNCATED', `input ends inside ${what}`, {
          offset: this.offset,
          expected: `${left} more bytes`,
          actual: 0,
        });
      }
      const step = Math.min(left, this.#buffered);
      this.take(step);
      left -= step;
    }
  }

  /** Whether the input has ended with nothing left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** What is left: buffered bytes first, then the rest of the input. */
  async *rest(): AsyncGenerator<Buffer> {
    while (await this.fill(1)) {
      const first = this.#queue[this.#head] as Buffer;
      yield* this.take(first.length);
    }
  }
}

function totalOf(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}
