/**
 * Incremental stream reader: optional xl header, stream header, then records as an async
 * iterator, with every check of SPEC.md applied as the bytes arrive.
 */
import {
  RECORD_HEADER_SIZE,
  RECORD_LENGTH_MAX,
  STREAM_HEADER_SIZE,
  XL_HEADER_FIXED_SIZE,
  XL_MAGIC,
  isOptionalType,
  paddedLength,
} from './constants.js';
import { ByteSource, type ByteInput } from './byte-source.js';
import { crc32 } from './crc32.js';
import { StreamError } from './errors.js';
import type { DecodeContext } from './record-codec.js';
import { codecForType, type RecordOf, type StreamRecord } from './record-types.js';
import { StreamState } from './stream-state.js';
import { decodeStreamHeader, type StreamHeader } from './stream-header.js';
import { decodeRecordHeader } from './structs.js';
import { decodeXlFixedHeader, decodeXlOptionalData, type XlHeader } from './xl-header.js';

export interface ReaderOptions {
  /** Cap on a record body, checked before reading it. Default 128 MiB. */
  maxRecordLength?: number;
  /** Whether the xl save-file header precedes the stream header. Default 'auto' (detected). */
  xlHeader?: 'auto' | 'required' | 'absent';
  /** Accept CHECKPOINT_END / CHECKPOINT_STATE. Default false. */
  checkpointed?: boolean;
  /** After END: 'error' (default) if any byte follows; 'leave' to keep them for remainder(). */
  trailing?: 'error' | 'leave';
  /** Called for each unknown optional record that is skipped. */
  onSkip?: (info: { type: number; offset: number; length: number }) => void;
  /**
   * For a Readable input: bytes read ahead of the records taken before the input is paused
   * (default 8 MiB). A small one keeps records that jump the queue (a tunnel's) from
   * waiting behind megabytes already read.
   */
  readAhead?: number;
}

export interface StreamHeaders {
  xlHeader: XlHeader | undefined;
  streamHeader: StreamHeader;
}

export class StreamReader {
  readonly #src: ByteSource;
  readonly #opts: Required<Omit<ReaderOptions, 'onSkip' | 'readAhead'>> & Pick<ReaderOptions, 'onSkip'>;
  readonly #state: StreamState;
  #headers: StreamHeaders | undefined;
  #done = false;
  /**
   * Records for which this returns true are consumed here and never returned by next(),
   * records() or ramPayload(): how a channel layer multiplexed into the stream (the migrate
   * tunnel) takes its records out wherever they fall between the others. END is never taken.
   */
  intercept: ((rec: StreamRecord) => boolean) | undefined;

  constructor(input: ByteInput, options: ReaderOptions = {}) {
    this.#src = new ByteSource(input, options.readAhead);
    this.#opts = {
      maxRecordLength: options.maxRecordLength ?? RECORD_LENGTH_MAX,
      xlHeader: options.xlHeader ?? 'auto',
      checkpointed: options.checkpointed ?? false,
      trailing: options.trailing ?? 'error',
      onSkip: options.onSkip,
    };
    this.#state = new StreamState(this.#opts.checkpointed);
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#src.offset;
  }

  /** The most input bytes the reader ever held at once. */
  get maxBuffered(): number {
    return this.#src.maxBuffered;
  }

  /** The current phase (0 before any PHASE record). */
  get phase(): number {
    return this.#state.phase;
  }

  /** Read (once) and return the xl header, if any, and the stream header. */
  async headers(): Promise<StreamHeaders> {
    if (this.#headers !== undefined) return this.#headers;
    let xlHeader: XlHeader | undefined;
    const mode = this.#opts.xlHeader;
    const looksXl =
      mode === 'required' || (mode === 'auto' && (await this.#src.peek(8)).equals(XL_MAGIC.subarray(0, 8)));
    if (looksXl) {
      const fixedAt = this.#src.offset;
      // The magic first: a short text file is "not an xl save file", not a truncated one.
      const magic = await this.#src.peek(XL_MAGIC.length);
      if (!magic.equals(XL_MAGIC.subarray(0, magic.length)) || magic.length === 0) {
        throw new StreamError('STREAM_BAD_MAGIC', 'not an xl save file: wrong magic number', {
          offset: fixedAt,
          expected: JSON.stringify(XL_MAGIC.toString('latin1')),
          actual: JSON.stringify(magic.toString('latin1')),
        });
      }
      const fixed = decodeXlFixedHeader(
        await this.#src.readContiguous(XL_HEADER_FIXED_SIZE, 'the xl header'),
        fixedAt,
      );
      const dataAt = this.#src.offset;
      const data = await this.#src.readContiguous(fixed.optionalDataLen, 'the xl header optional data');
      xlHeader = decodeXlOptionalData(fixed, data, dataAt);
    }
    const at = this.#src.offset;
    const streamHeader = decodeStreamHeader(
      await this.#src.readContiguous(STREAM_HEADER_SIZE, 'the stream header'),
      at,
    );
    this.#headers = { xlHeader, streamHeader };
    return this.#headers;
  }

  /** The next record, or null once END has been read (and the trailing-bytes rule applied). */
  async next(): Promise<StreamRecord | null> {
    if (this.#done) return null;
    await this.headers();
    for (;;) {
      const at = this.#src.offset;
      if (!(await this.#src.fill(RECORD_HEADER_SIZE))) {
        throw new StreamError(
          'STREAM_TRUNCATED',
          this.#src.buffered === 0 ? 'input ends before the END record' : 'input ends inside a record header',
          {
            offset: at,
            expected: 'END record',
            actual: 'end of input',
          },
        );
      }
      const { type, length } = decodeRecordHeader(
        await this.#src.readContiguous(RECORD_HEADER_SIZE, 'a record header'),
        at,
      );
      if (length > this.#opts.maxRecordLength) {
        throw new StreamError('STREAM_TOO_LONG', 'record body longer than the cap', {
          offset: at,
          recordType: type,
          expected: `<= ${this.#opts.maxRecordLength}`,
          actual: length,
        });
      }
      const codec = codecForType(type);
      const padded = paddedLength(length);
      if (codec === undefined) {
        if (!isOptionalType(type)) {
          throw new StreamError('STREAM_UNKNOWN_RECORD', 'unknown mandatory record type', {
            offset: at,
            recordType: type,
          });
        }
        if (this.#state.ended)
          throw new StreamError('STREAM_UNEXPECTED_RECORD', 'record after END', {
            offset: at,
            recordType: type,
          });
        await this.#src.skip(padded, 'an optional record');
        this.#opts.onSkip?.({ type, offset: at, length });
        continue;
      }
      if (length < codec.minLength || length > codec.maxLength) {
        const expected =
          codec.minLength === codec.maxLength ? codec.minLength : `${codec.minLength}..${codec.maxLength}`;
        throw new StreamError('STREAM_BAD_LENGTH', `bad ${codec.name} length`, {
          offset: at,
          recordType: type,
          expected,
          actual: length,
        });
      }
      this.#state.beforeBody(codec, at);
      const ctx: DecodeContext = {};
      const body =
        length === 0
          ? []
          : await this.#src.read(length, `a ${codec.name} record`, crcVisitor(codec.crc32From, ctx));
      await this.#checkPadding(padded - length, at + RECORD_HEADER_SIZE + length, type);
      const rec = {
        name: codec.name,
        type,
        offset: at,
        length,
        value: codec.decode(body, length, at + RECORD_HEADER_SIZE, ctx),
      } as StreamRecord;
      this.#state.afterBody(rec);
      if (rec.name === 'END') await this.#finish();
      else if (this.intercept?.(rec) === true) continue;
      return rec;
    }
  }

  async #checkPadding(n: number, at: number, type: number): Promise<void> {
    if (n === 0) return;
    const pad = await this.#src.readContiguous(n, 'record padding');
    for (let i = 0; i < n; i++) {
      if (pad[i] !== 0)
        throw new StreamError('STREAM_BAD_PADDING', 'non-zero padding byte', {
          offset: at + i,
          recordType: type,
          expected: 0,
          actual: pad[i] ?? 0,
        });
    }
  }

  async #finish(): Promise<void> {
    this.#done = true;
    if (this.#opts.trailing === 'error' && !(await this.#src.atEnd())) {
      throw new StreamError('STREAM_TRAILING_DATA', 'bytes after the END record', {
        offset: this.#src.offset,
        expected: 'end of input',
        actual: `${this.#src.buffered}+ bytes`,
      });
    }
  }

  /** All records up to and including END. */
  async *records(): AsyncGenerator<StreamRecord> {
    for (;;) {
      const rec = await this.next();
      if (rec === null) return;
      yield rec;
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<StreamRecord> {
    return this.records();
  }

  /**
   * The verified RAM payload, chunk by chunk (slices, not copies), to pipe into QEMU's
   * incoming socket. Pass the RAM_CHUNK already taken from records(), if any. Each chunk's
   * crc32 is checked before it is yielded; the iteration ends after RAM_END's total and
   * digest matched, and throws STREAM_DIGEST otherwise. Records after RAM_END (END) are
   * left for records()/next().
   */
  async *ramPayload(first?: RecordOf<'RAM_CHUNK'>): AsyncGenerator<Buffer> {
    if (first !== undefined) yield* first.value.payload;
    for (;;) {
      const rec = await this.next();
      if (rec === null || rec.name === 'END') {
        throw new StreamError('STREAM_RAM_INCOMPLETE', 'stream ended without a RAM stream', {
          offset: rec?.offset ?? this.offset,
          expected: 'RAM_CHUNK',
          actual: rec?.name ?? 'end of input',
        });
      }
      if (rec.name === 'RAM_END') return;
      if (rec.name !== 'RAM_CHUNK') {
        throw new StreamError('STREAM_UNEXPECTED_RECORD', 'record where the RAM stream was expected', {
          offset: rec.offset,
          recordType: rec.type,
          expected: 'RAM_CHUNK',
          actual: rec.name,
        });
      }
      yield* rec.value.payload;
    }
  }

  /** After END with trailing 'leave': the bytes that follow (e.g. the migrate handshake). */
  remainder(): AsyncGenerator<Buffer> {
    return this.#src.rest();
  }
}

/** A visitor that accumulates crc32 over body bytes from `from` on into ctx.crc32. */
function crcVisitor(from: number | undefined, ctx: DecodeContext): ((slice: Buffer) => void) | undefined {
  if (from === undefined) return undefined;
  let seen = 0;
  ctx.crc32 = 0;
  return (slice) => {
    const skip = Math.max(0, Math.min(slice.length, from - seen));
    seen += slice.length;
    if (skip < slice.length) ctx.crc32 = crc32(skip === 0 ? slice : slice.subarray(skip), ctx.crc32) >>> 0;
  };
}

export function readStream(input: ByteInput, options?: ReaderOptions): StreamReader {
  return new StreamReader(input, options);
}
