/** Stream writer: headers, records and RAM framing to any Writable, with backpressure. */
import type { Writable } from 'node:stream';
import { crc32 } from './crc32.js';
import { IDLE, withIdleMarks } from './idle-marks.js';
import {
  DigestAlgorithm,
  RAM_CHUNK_MAX,
  RECORD_LENGTH_MAX,
  paddedLength,
  type PhaseNumber,
} from './constants.js';
import { StreamError } from './errors.js';
import { RamDigest } from './ram-digest.js';
import { RECORD_CODECS, type RecordName, type RecordValueMap } from './record-types.js';
import { crc32Of, encodeRamChunkHeader } from './records/ram-chunk.js';
import type { DomainInfo } from './records/domain-info.js';
import { Sink } from './sink.js';
import { encodeStreamHeader, type StreamHeader } from './stream-header.js';
import { encodeXlHeader } from './xl-header.js';

const ZEROS = Buffer.alloc(8);

function recordHeader(type: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32LE(type >>> 0, 0);
  b.writeUInt32LE(length, 4);
  return b;
}

export interface RamFramingResult {
  bytes: number;
  chunks: number;
  /** The crc-list-sha256 digest written in RAM_END. */
  digest: Buffer;
}

export interface RamFramingOptions {
  /** Payload bytes per RAM_CHUNK (default and maximum RAM_CHUNK_MAX). */
  chunkSize?: number;
  /** Awaited before each chunk goes out, with its payload length: flow control by the caller (e.g. the receiver's RAM credit). */
  pace?: (length: number) => Promise<void> | void;
  /**
   * Send a partial chunk once the input has been quiet this long (default: never; chunks are
   * full but for the last). For a live peer: while the source is slow, what it has produced
   * goes on at once instead of waiting for the chunk to fill.
   */
  flushIdleMs?: number;
}

export class StreamWriter {
  readonly #sink: Sink;
  #state: 'start' | 'xl' | 'records' | 'ended' = 'start';
  #ram = new RamDigest();
  #ramState: 'none' | 'open' | 'done' = 'none';
  /** Bytes written so far. */
  bytesWritten = 0;

  /**
   * `maxBuffered`: bytes the output may hold before a write waits for 'drain' (default
   * 8 MiB, two full RAM chunks, so the output keeps busy while the next chunk is prepared).
   */
  constructor(output: Writable, options: { maxBuffered?: number } = {}) {
    this.#sink = new Sink(output, options.maxBuffered ?? 2 * RAM_CHUNK_MAX);
  }

  async #out(parts: Buffer[]): Promise<void> {
    for (const p of parts) this.bytesWritten += p.length;
    await this.#sink.write(parts);
  }

  #expect(ok: boolean, what: string): void {
    if (!ok) throw new StreamError('STREAM_WRITER_STATE', what);
  }

  /** The xl save-file header with the domain config (JSON text or a value to stringify). */
  async writeXlHeader(config: string | object): Promise<void> {
    this.#expect(this.#state === 'start', 'the xl header must come first');
    this.#state = 'xl';
    await this.#out([encodeXlHeader(config)]);
  }

  async writeStreamHeader(header?: StreamHeader): Promise<void> {
    this.#expect(
      this.#state === 'start' || this.#state === 'xl',
      'the stream header is written once, before any record',
    );
    this.#state = 'records';
    await this.#out([encodeStreamHeader(header)]);
  }

  /** Frame a body given as slices: header, slices, zero padding. No validation of type or body. */
  async writeRawRecord(type: number, body: readonly Buffer[]): Promise<void> {
    this.#expect(this.#state === 'records', 'records need the stream header first and none after END');
    let length = 0;
    for (const b of body) length += b.length;
    if (length > RECORD_LENGTH_MAX)
      throw new StreamError('STREAM_TOO_LONG', 'record body longer than the cap', {
        recordType: type,
        expected: `<= ${RECORD_LENGTH_MAX}`,
        actual: length,
      });
    const pad = paddedLength(length) - length;
    await this.#out([recordHeader(type, length), ...body, ...(pad > 0 ? [ZEROS.subarray(0, pad)] : [])]);
  }

  /** Encode and write one record from the central table. */
  async writeRecord<K extends RecordName>(name: K, value: RecordValueMap[K]): Promise<void> {
    const codec = RECORD_CODECS[name];
    const encode = codec.encode as (v: RecordValueMap[K]) => Buffer[];
    await this.writeRawRecord(codec.type, encode(value));
    if (name === 'END') this.#state = 'ended';
  }

  writePhase(phase: PhaseNumber): Promise<void> {
    return this.writeRecord('PHASE', { phase });
  }

  writeDomainInfo(info: DomainInfo): Promise<void> {
    return this.writeRecord('DOMAIN_INFO', info);
  }

  /** One RAM chunk (1 byte .. 4 MiB, as slices); offset, crc32 and digest are tracked here. */
  async writeRamChunk(payload: Buffer | readonly Buffer[]): Promise<void> {
    this.#expect(this.#ramState !== 'done', 'RAM chunk after RAM_END');
    const parts = Buffer.isBuffer(payload) ? [payload] : [...payload];
    let length = 0;
    for (const p of parts) length += p.length;
    if (length < 1 || length > RAM_CHUNK_MAX)
      throw new StreamError('STREAM_WRITER_STATE', 'RAM chunk size', {
        expected: `1..${RAM_CHUNK_MAX}`,
        actual: length,
      });
    await this.#ramChunk(parts, length, crc32Of(parts));
  }

  async #ramChunk(parts: Buffer[], length: number, crc: number): Promise<void> {
    const offset = this.#ram.total;
    this.#ram.update(offset, length, crc);
    this.#ramState = 'open';
    await this.writeRawRecord(RECORD_CODECS.RAM_CHUNK.type, [encodeRamChunkHeader(offset, crc), ...parts]);
  }

  /** RAM_END with the total and digest of the chunks written. */
  async endRam(): Promise<Buffer> {
    this.#expect(this.#ramState === 'open', 'RAM_END needs at least one RAM chunk before it, and comes once');
    this.#ramState = 'done';
    const digest = this.#ram.digest();
    await this.writeRecord('RAM_END', {
      total: this.#ram.total,
      algorithm: DigestAlgorithm.CRC_LIST_SHA256,
      digest,
    });
    return digest;
  }

  /**
   * Frame a byte stream (QEMU's migration stream arriving on a socket) into RAM chunks of at
   * most `chunkSize` bytes, then write RAM_END. Input buffers are sliced, never copied.
   */
  async writeRamFrom(
    input: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>,
    options: RamFramingOptions = {},
  ): Promise<RamFramingResult> {
    const size = options.chunkSize ?? RAM_CHUNK_MAX;
    if (!(size >= 1 && size <= RAM_CHUNK_MAX))
      throw new StreamError('STREAM_WRITER_STATE', 'RAM chunk size', {
        expected: `1..${RAM_CHUNK_MAX}`,
        actual: size,
      });
    const start = this.#ram.total;
    let parts: Buffer[] = [];
    let have = 0;
    let crc = 0;
    const emit = async () => {
      if (options.pace) await options.pace(have);
      await this.#ramChunk(parts, have, crc >>> 0);
      parts = [];
      have = 0;
      crc = 0;
    };
    const items = options.flushIdleMs === undefined ? input : withIdleMarks(input, options.flushIdleMs);
    for await (const raw of items) {
      if (raw === IDLE) {
        if (have > 0) await emit();
        continue;
      }
      let b = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      while (b.length > 0) {
        const take = Math.min(size - have, b.length);
        const piece = take === b.length ? b : b.subarray(0, take);
        parts.push(piece);
        crc = crc32(piece, crc);
        have += take;
        b = b.subarray(take);
        if (have === size) await emit();
      }
    }
    if (have > 0) await emit();
    const digest = await this.endRam();
    return { bytes: this.#ram.total - start, chunks: this.#ram.chunks, digest };
  }

  /** The END record, then wait until the output has drained. The output is left open. */
  async end(): Promise<void> {
    this.#expect(this.#ramState !== 'open', 'END while the RAM stream is open (call endRam first)');
    await this.writeRecord('END', null);
    await this.#sink.drained();
  }

  /** Wait until everything written so far has been taken by the output. */
  flush(): Promise<void> {
    return this.#sink.drained();
  }
}

export function createStreamWriter(output: Writable, options?: { maxBuffered?: number }): StreamWriter {
  return new StreamWriter(output, options);
}
