/**
 * Test-only (XLKIT_FAULT=corrupt-ram-chunk:N): passes the forward stream through, following
 * its framing with @xlkit/stream's own decoders (xl header, stream header, record headers),
 * and flips one byte in the middle of the n-th RAM_CHUNK's payload, after its crc was
 * computed. Everything after END passes unchanged.
 */
import { Transform, type TransformCallback } from 'node:stream';
import {
  decodeRecordHeader,
  decodeStreamHeader,
  decodeXlFixedHeader,
  paddedLength,
  RAM_CHUNK_HEADER_SIZE,
  RECORD_HEADER_SIZE,
  RecordType,
  STREAM_HEADER_SIZE,
  XL_HEADER_FIXED_SIZE,
} from '@xlkit/stream';

/** What the bytes at the current position are. */
type Part = 'xl-header' | 'xl-data' | 'stream-header' | 'record-header' | 'body' | 'after-end';

export class CorruptRamChunk extends Transform {
  #part: Part = 'xl-header';
  /** A header being collected. */
  #head = Buffer.alloc(0);
  /** Bytes left of the current body (or the xl header's optional data). */
  #left = 0;
  #chunks = 0;
  /** Bytes still to pass before the one to flip, in the current body; -1 for none. */
  #flipIn = -1;

  constructor(readonly target: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let out: Buffer;
    try {
      out = this.#pass(chunk);
    } catch (err) {
      done(err as Error);
      return;
    }
    done(null, out);
  }

  #pass(chunk: Buffer): Buffer {
    let out = chunk;
    let i = 0;
    while (i < out.length && this.#part !== 'after-end') {
      if (this.#part === 'xl-data' || this.#part === 'body') {
        const n = Math.min(this.#left, out.length - i);
        if (this.#flipIn >= 0 && this.#flipIn < n) {
          out = Buffer.from(out);
          out[i + this.#flipIn] = (out[i + this.#flipIn] ?? 0) ^ 0x40;
          this.#flipIn = -1;
        } else if (this.#flipIn >= 0) {
          this.#flipIn -= n;
        }
        this.#left -= n;
        i += n;
        if (this.#left === 0) this.#part = this.#part === 'xl-data' ? 'stream-header' : 'record-header';
        continue;
      }
      const need =
        this.#part === 'xl-header'
          ? XL_HEADER_FIXED_SIZE
          : this.#part === 'stream-header'
            ? STREAM_HEADER_SIZE
            : RECORD_HEADER_SIZE;
      const n = Math.min(need - this.#head.length, out.length - i);
      this.#head = Buffer.concat([this.#head, out.subarray(i, i + n)]);
      i += n;
      if (this.#head.length === need) this.#headerDone();
    }
    return out;
  }

  #headerDone(): void {
    const h = this.#head;
    this.#head = Buffer.alloc(0);
    if (this.#part === 'xl-header') {
      this.#left = decodeXlFixedHeader(h).optionalDataLen;
      this.#part = this.#left === 0 ? 'stream-header' : 'xl-data';
      return;
    }
    if (this.#part === 'stream-header') {
      decodeStreamHeader(h);
      this.#part = 'record-header';
      return;
    }
    const { type, length } = decodeRecordHeader(h);
    if (type === RecordType.END) {
      this.#part = 'after-end';
      return;
    }
    this.#left = paddedLength(length);
    this.#part = this.#left === 0 ? 'record-header' : 'body';
    if (type === RecordType.RAM_CHUNK && ++this.#chunks === this.target) {
      this.#flipIn = RAM_CHUNK_HEADER_SIZE + Math.floor((length - RAM_CHUNK_HEADER_SIZE) / 2);
    }
  }
}
