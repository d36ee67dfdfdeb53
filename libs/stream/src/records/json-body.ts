/** NUL-terminated UTF-8 JSON bodies (DOMAIN_INFO style) for the migration control records. */
import { StreamError } from '../errors.js';
import { contiguous } from '../body.js';

/** Parse a body that must be JSON text followed by exactly one NUL, and be an object. */
export function decodeJsonObject(body: readonly Buffer[], len: number, at: number, type: number, what: string): Record<string, unknown> {
  const raw = contiguous(body);
  if (raw.indexOf(0) !== len - 1) {
    throw new StreamError('STREAM_BAD_RECORD', `${what}: JSON must be NUL-terminated exactly at its end`, { offset: at, recordType: type });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8', 0, len - 1));
  } catch (err) {
    throw new StreamError('STREAM_BAD_RECORD', `${what}: invalid JSON`, { offset: at, recordType: type, cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new StreamError('STREAM_BAD_RECORD', `${what}: body is not a JSON object`, { offset: at, recordType: type });
  }
  return parsed as Record<string, unknown>;
}

export function encodeJson(value: unknown): Buffer[] {
  return [Buffer.from(`${JSON.stringify(value)}\0`, 'utf8')];
}
