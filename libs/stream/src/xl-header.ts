/** xl's save-file header (SPEC.md section 2): encoder and two-step decoder. */
import {
  XL_BYTEORDER,
  XL_HEADER_FIXED_SIZE,
  XL_MAGIC,
  XL_MANDATORY_FLAG_JSON,
  XL_MANDATORY_FLAG_STREAMV2,
  XL_MANDATORY_FLAGS_KNOWN,
  XL_OPTIONAL_DATA_MAX,
} from './constants.js';
import { StreamError } from './errors.js';
import { JSON_MAX_DEPTH, jsonDepthViolation } from './json-bounds.js';
import { decodeXlFixed, type XlFixedHeader } from './structs.js';

export interface XlHeader {
  mandatoryFlags: number;
  optionalFlags: number;
  /** Config JSON text without its NUL, or undefined when the JSON flag is clear. */
  configText: string | undefined;
  /** Parsed config. */
  config: unknown;
  /** Bytes the header occupies (fixed part + optional data). */
  size: number;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** Encode the header for a config given as JSON text or as a value to stringify. */
export function encodeXlHeader(config: string | object): Buffer {
  const text = typeof config === 'string' ? config : JSON.stringify(config);
  if (text.includes('\0')) throw new StreamError('STREAM_BAD_CONFIG', 'config contains a NUL byte');
  const body = Buffer.from(`${text}\0`, 'utf8');
  const out = Buffer.alloc(XL_HEADER_FIXED_SIZE + 4 + body.length);
  XL_MAGIC.copy(out, 0);
  out.writeUInt32LE(XL_BYTEORDER, 32);
  out.writeUInt32LE(XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2, 36);
  out.writeUInt32LE(0, 40);
  out.writeUInt32LE(4 + body.length, 44);
  out.writeUInt32LE(body.length, 48);
  body.copy(out, 52);
  return out;
}

/** Step 1: check the 48-byte fixed part; the result says how much optional data follows. */
export function decodeXlFixedHeader(fixed: Buffer, at = 0): XlFixedHeader {
  const h = decodeXlFixed(fixed, at);
  if (!h.magic.equals(XL_MAGIC)) {
    throw new StreamError('STREAM_BAD_MAGIC', 'not an xl save file: wrong magic number', {
      offset: at,
      expected: JSON.stringify(XL_MAGIC.toString('latin1')),
      actual: JSON.stringify(h.magic.toString('latin1')),
    });
  }
  if (h.byteorder !== XL_BYTEORDER) {
    throw new StreamError('STREAM_BAD_BYTE_ORDER', 'wrong byte order word', {
      offset: at + 32,
      expected: hex(XL_BYTEORDER),
      actual: hex(h.byteorder),
    });
  }
  const unknown = h.mandatoryFlags & ~XL_MANDATORY_FLAGS_KNOWN;
  if (unknown !== 0) {
    throw new StreamError('STREAM_BAD_FLAGS', 'unknown mandatory flags (need newer xl)', {
      offset: at + 36,
      expected: 0,
      actual: hex(unknown >>> 0),
    });
  }
  if ((h.mandatoryFlags & XL_MANDATORY_FLAG_STREAMV2) === 0) {
    throw new StreamError('STREAM_UNSUPPORTED', 'legacy (v1) save stream', {
      offset: at + 36,
      expected: 'STREAMv2 flag',
      actual: h.mandatoryFlags,
    });
  }
  if (h.optionalDataLen > XL_OPTIONAL_DATA_MAX) {
    throw new StreamError('STREAM_TOO_LONG', 'optional data too long', {
      offset: at + 44,
      expected: `<= ${XL_OPTIONAL_DATA_MAX}`,
      actual: h.optionalDataLen,
    });
  }
  if ((h.mandatoryFlags & XL_MANDATORY_FLAG_JSON) !== 0 && h.optionalDataLen < 4) {
    throw new StreamError('STREAM_BAD_CONFIG', 'optional data too short for a config length', {
      offset: at + 44,
      expected: '>= 4',
      actual: h.optionalDataLen,
    });
  }
  return h;
}

/** Step 2: decode the optional data (exactly optionalDataLen bytes). */
export function decodeXlOptionalData(h: XlFixedHeader, data: Buffer, at = XL_HEADER_FIXED_SIZE): XlHeader {
  const size = XL_HEADER_FIXED_SIZE + h.optionalDataLen;
  const base = { mandatoryFlags: h.mandatoryFlags, optionalFlags: h.optionalFlags, size };
  if ((h.mandatoryFlags & XL_MANDATORY_FLAG_JSON) === 0)
    return { ...base, configText: undefined, config: undefined };
  const len = data.readUInt32LE(0);
  if (len < 1 || len > data.length - 4) {
    throw new StreamError(
      'STREAM_BAD_CONFIG',
      'config length does not fit the optional data (savefile truncated)',
      {
        offset: at,
        expected: `1..${data.length - 4}`,
        actual: len,
      },
    );
  }
  const raw = data.subarray(4, 4 + len);
  const nul = raw.indexOf(0);
  if (nul !== len - 1) {
    throw new StreamError('STREAM_BAD_CONFIG', 'config is not NUL-terminated exactly at its end', {
      offset: at + 4,
      expected: len - 1,
      actual: nul,
    });
  }
  const deep = jsonDepthViolation(raw.subarray(0, len - 1));
  if (deep !== undefined) {
    throw new StreamError('STREAM_BAD_CONFIG', 'config JSON nests too deep', {
      offset: at + 4 + deep.offset,
      expected: `depth <= ${JSON_MAX_DEPTH}`,
      actual: `depth ${deep.depth}`,
    });
  }
  const configText = raw.toString('utf8', 0, len - 1);
  let config: unknown;
  try {
    config = JSON.parse(configText);
  } catch (err) {
    throw new StreamError('STREAM_BAD_CONFIG', 'config is not valid JSON', { offset: at + 4, cause: err });
  }
  return { ...base, configText, config };
}

/** Decode a complete header from one buffer (the stream may follow in the same buffer). */
export function decodeXlHeader(buf: Buffer): XlHeader {
  const fixed = decodeXlFixedHeader(buf.subarray(0, XL_HEADER_FIXED_SIZE));
  const end = XL_HEADER_FIXED_SIZE + fixed.optionalDataLen;
  if (buf.length < end)
    throw new StreamError('STREAM_TRUNCATED', 'xl header optional data is short', {
      offset: XL_HEADER_FIXED_SIZE,
      expected: fixed.optionalDataLen,
      actual: buf.length - XL_HEADER_FIXED_SIZE,
    });
  return decodeXlOptionalData(fixed, buf.subarray(XL_HEADER_FIXED_SIZE, end));
}
