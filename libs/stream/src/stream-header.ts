/** libxl migration stream v2 header (SPEC.md section 3). */
import { STREAM_HEADER_SIZE, STREAM_IDENT, STREAM_OPTION_BIG_ENDIAN, STREAM_VERSION } from './constants.js';
import { StreamError } from './errors.js';
import { decodeStreamHeaderFields } from './structs.js';

export interface StreamHeader {
  version: number;
  options: number;
}

export function encodeStreamHeader(h: StreamHeader = { version: STREAM_VERSION, options: 0 }): Buffer {
  const out = Buffer.alloc(STREAM_HEADER_SIZE);
  out.writeBigUInt64BE(STREAM_IDENT, 0);
  out.writeUInt32BE(h.version >>> 0, 8);
  out.writeUInt32BE(h.options >>> 0, 12);
  return out;
}

/** Decode and check the 16-byte header found at byte `at` of the input. */
export function decodeStreamHeader(buf: Buffer, at = 0): StreamHeader {
  const f = decodeStreamHeaderFields(buf, at);
  if (f.ident !== STREAM_IDENT) {
    throw new StreamError('STREAM_BAD_IDENT', 'bad stream ident', {
      offset: at,
      expected: `0x${STREAM_IDENT.toString(16)}`,
      actual: `0x${f.ident.toString(16)}`,
    });
  }
  if (f.version !== STREAM_VERSION) {
    throw new StreamError('STREAM_BAD_VERSION', 'unsupported stream version', {
      offset: at + 8,
      expected: STREAM_VERSION,
      actual: f.version,
    });
  }
  if (f.options !== 0) {
    const what =
      (f.options & STREAM_OPTION_BIG_ENDIAN) !== 0
        ? 'big-endian streams are not supported'
        : 'legacy or reserved option bits set';
    throw new StreamError('STREAM_BAD_OPTIONS', what, { offset: at + 12, expected: 0, actual: f.options });
  }
  return { version: f.version, options: f.options };
}
