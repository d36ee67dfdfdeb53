/**
 * The one codec for JSON record bodies (SPEC.md 4.4): UTF-8 JSON text of an object followed by
 * exactly one NUL, which is the body's last byte. Every JSON record (DOMAIN_INFO, DISK_PLAN,
 * DISK_EXPORTS, MIGRATION_HELLO, MIGRATION_ERROR) decodes and encodes through here; each record
 * then checks its own fields.
 */
import { StreamError } from '../errors.js';
import { head, totalLength } from '../body.js';
import { JSON_MAX_DEPTH, jsonDepthViolation } from '../json-bounds.js';

export type JsonObject = Record<string, unknown>;

/** The shortest JSON body: one character of JSON text and the NUL. */
export const JSON_BODY_MIN = 2;

export interface JsonBodySpec {
  /** Record type, named in every error. */
  type: number;
  /** How messages name the record, e.g. "disk plan". */
  what: string;
  /** Largest body in bytes (JSON text and NUL): the record's maxLength. */
  maxLength: number;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Index of the first byte in b[0, end) that does not begin a complete, well-formed UTF-8
 * sequence (overlong forms, surrogates and code points above U+10FFFF included), or -1.
 */
export function firstInvalidUtf8(b: Uint8Array, end = b.length): number {
  let i = 0;
  while (i < end) {
    const c = b[i] as number;
    if (c < 0x80) {
      i += 1;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n >= end) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const d = b[i + k] as number;
      if ((d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    const min = n === 1 ? 0x80 : n === 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

/**
 * Decode a JSON body of `len` bytes held as slices; `at` is the body's byte offset in the
 * input. The length is checked before anything is copied. Throws StreamError:
 * STREAM_BAD_LENGTH (outside JSON_BODY_MIN..maxLength), STREAM_TRUNCATED (fewer bytes than
 * `len`), STREAM_BAD_RECORD (no NUL at the end, bytes after the NUL, invalid UTF-8, invalid
 * JSON, not an object).
 */
export function decodeJsonBody(
  body: readonly Buffer[],
  len: number,
  at: number,
  spec: JsonBodySpec,
): JsonObject {
  const { type, what, maxLength } = spec;
  const fail = (
    code: 'STREAM_BAD_RECORD' | 'STREAM_BAD_LENGTH' | 'STREAM_TRUNCATED',
    m: string,
    offset: number,
    expected: string | number,
    actual: string | number,
    cause?: unknown,
  ) => new StreamError(code, `${what}: ${m}`, { offset, recordType: type, expected, actual, cause });
  if (!Number.isSafeInteger(len) || len < JSON_BODY_MIN || len > maxLength) {
    throw fail('STREAM_BAD_LENGTH', 'JSON body length', at, `${JSON_BODY_MIN}..${maxLength}`, len);
  }
  const have = totalLength(body);
  if (have < len)
    throw fail('STREAM_TRUNCATED', 'JSON body is short', at + have, `${len} bytes`, `${have} bytes`);
  const raw = head(body, len);
  const nul = raw.indexOf(0);
  if (nul === -1) {
    throw fail(
      'STREAM_BAD_RECORD',
      'JSON text is not NUL-terminated',
      at + len - 1,
      'NUL as the last body byte',
      `0x${(raw[len - 1] as number).toString(16).padStart(2, '0')}`,
    );
  }
  if (nul !== len - 1) {
    throw fail(
      'STREAM_BAD_RECORD',
      'bytes after the NUL that ends the JSON text (padding goes after the body, outside body_length)',
      at + nul + 1,
      `NUL at body byte ${len - 1}`,
      `NUL at body byte ${nul}, then ${len - 1 - nul} more byte(s)`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(raw.subarray(0, nul));
  } catch (err) {
    const bad = firstInvalidUtf8(raw, nul);
    const where = bad === -1 ? 0 : bad;
    throw fail(
      'STREAM_BAD_RECORD',
      'JSON text is not valid UTF-8',
      at + where,
      'UTF-8',
      `byte 0x${(raw[where] as number).toString(16).padStart(2, '0')}`,
      err,
    );
  }
  const deep = jsonDepthViolation(raw.subarray(0, nul));
  if (deep !== undefined) {
    throw fail(
      'STREAM_BAD_RECORD',
      'JSON nests too deep',
      at + deep.offset,
      `depth <= ${JSON_MAX_DEPTH}`,
      `depth ${deep.depth}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw fail(
      'STREAM_BAD_RECORD',
      `invalid JSON (${err instanceof Error ? err.message : String(err)})`,
      at,
      'JSON text',
      'unparsable text',
      err,
    );
  }
  if (!isJsonObject(value))
    throw fail('STREAM_BAD_RECORD', 'body is not a JSON object', at, 'a JSON object', kindOf(value));
  return value;
}

/**
 * Encode a (checked) value as a JSON body: the text and its NUL in one buffer. Its size is
 * computed, and checked against maxLength (STREAM_BAD_LENGTH), before the buffer is allocated.
 * JSON.stringify escapes NUL and lone surrogates, so the text is NUL-free, well-formed UTF-8.
 */
export function encodeJsonBody(value: object, spec: JsonBodySpec): Buffer[] {
  const text = JSON.stringify(value);
  const size = Buffer.byteLength(text, 'utf8') + 1;
  if (size > spec.maxLength) {
    throw new StreamError('STREAM_BAD_LENGTH', `${spec.what}: JSON body too long`, {
      recordType: spec.type,
      expected: `<= ${spec.maxLength}`,
      actual: size,
    });
  }
  const b = Buffer.allocUnsafe(size);
  b.write(text, 0, 'utf8');
  b[size - 1] = 0;
  return [b];
}

/** decode/encode bound to one record's spec, for its defineRecord entry. */
export function jsonBody(spec: JsonBodySpec) {
  return {
    minLength: JSON_BODY_MIN,
    maxLength: spec.maxLength,
    decode: (body: readonly Buffer[], len: number, at: number): JsonObject =>
      decodeJsonBody(body, len, at, spec),
    encode: (value: object): Buffer[] => encodeJsonBody(value, spec),
  };
}
