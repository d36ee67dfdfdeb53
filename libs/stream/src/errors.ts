/** The one error class of @xlkit/stream. */
export type StreamErrorCode =
  | 'STREAM_TRUNCATED'
  | 'STREAM_BAD_MAGIC'
  | 'STREAM_BAD_BYTE_ORDER'
  | 'STREAM_BAD_FLAGS'
  | 'STREAM_BAD_CONFIG'
  | 'STREAM_UNSUPPORTED'
  | 'STREAM_BAD_IDENT'
  | 'STREAM_BAD_VERSION'
  | 'STREAM_BAD_OPTIONS'
  | 'STREAM_TOO_LONG'
  | 'STREAM_BAD_LENGTH'
  | 'STREAM_BAD_PADDING'
  | 'STREAM_UNKNOWN_RECORD'
  | 'STREAM_BAD_RECORD'
  | 'STREAM_UNEXPECTED_RECORD'
  | 'STREAM_PHASE_ORDER'
  | 'STREAM_BAD_OFFSET'
  | 'STREAM_CHECKSUM'
  | 'STREAM_DIGEST'
  | 'STREAM_RAM_INCOMPLETE'
  | 'STREAM_TRAILING_DATA'
  | 'STREAM_WRITER_STATE'
  | 'STREAM_IO';

export type StreamErrorValue = string | number | bigint;

export interface StreamErrorDetails {
  /** Byte offset in the input where the failing item starts. */
  offset?: number;
  /** Record type the failure concerns. */
  recordType?: number;
  expected?: StreamErrorValue;
  actual?: StreamErrorValue;
  cause?: unknown;
}

function show(v: StreamErrorValue): string {
  return String(v);
}

export class StreamError extends Error {
  override name = 'StreamError';
  readonly code: StreamErrorCode;
  readonly offset: number | undefined;
  readonly recordType: number | undefined;
  readonly expected: StreamErrorValue | undefined;
  readonly actual: StreamErrorValue | undefined;

  constructor(code: StreamErrorCode, what: string, details: StreamErrorDetails = {}) {
    const parts = [what];
    if (details.expected !== undefined || details.actual !== undefined) {
      parts.push(
        `expected ${details.expected === undefined ? '?' : show(details.expected)}, got ${details.actual === undefined ? '?' : show(details.actual)}`,
      );
    }
    if (details.recordType !== undefined)
      parts.push(`record type 0x${details.recordType.toString(16).padStart(8, '0')}`);
    const where = details.offset === undefined ? code : `${code} at byte ${details.offset}`;
    super(
      `${where}: ${parts.join('; ')}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.code = code;
    this.offset = details.offset;
    this.recordType = details.recordType;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** Turn anything thrown by a parser or I/O into a StreamError (StreamErrors pass through). */
export function asStreamError(
  err: unknown,
  code: StreamErrorCode,
  what: string,
  details: StreamErrorDetails = {},
): StreamError {
  if (err instanceof StreamError) return err;
  return new StreamError(code, `${what}: ${err instanceof Error ? err.message : String(err)}`, {
    ...details,
    cause: err,
  });
}
