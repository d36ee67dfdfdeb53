/**
 * MIGRATION_ERROR: one side of a live migration gives up, and says why, before the switch-over.
 * Sent by the receiver on its back channel (refusal, failed start, bad stream) and by the
 * sender on the forward stream (abort, e.g. Ctrl-C); allowed inside the RAM stream.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { defineRecord } from '../record-codec.js';
import { jsonBody } from './json-body.js';

export interface MigrationErrorInfo {
  /** Where it failed: "handshake", "phase 1", "phase 3", ... */
  stage: string;
  /** One line for the operator. */
  message: string;
  /** An error code (XL_*, STREAM_*, QMP_*) when there is one. */
  code?: string;
}

const TYPE = XLKIT_MANDATORY_BASE + 6;
export const MIGRATION_ERROR_MAX = 64 * 1024;
const json = jsonBody({ type: TYPE, what: 'migration error', maxLength: MIGRATION_ERROR_MAX });

function text(o: Record<string, unknown>, k: string, at: number, max: number): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max) {
    throw new StreamError(
      'STREAM_BAD_RECORD',
      `migration error: ${k} must be a string of at most ${max} characters`,
      { offset: at, recordType: TYPE },
    );
  }
  return v;
}

export function checkMigrationError(o: Record<string, unknown>, at = 0): MigrationErrorInfo {
  const out: MigrationErrorInfo = { stage: text(o, 'stage', at, 100), message: text(o, 'message', at, 8000) };
  if (o.code !== undefined) out.code = text(o, 'code', at, 100);
  return out;
}

export const MIGRATION_ERROR = defineRecord<MigrationErrorInfo>({
  type: TYPE,
  name: 'MIGRATION_ERROR',
  minLength: json.minLength,
  maxLength: json.maxLength,
  duringRam: true,
  decode: (body, len, at) => checkMigrationError(json.decode(body, len, at), at),
  encode: (v) => json.encode(checkMigrationError(v as unknown as Record<string, unknown>)),
  summary: (v) => `${v.stage}: ${v.message}${v.code ? ` [${v.code}]` : ''}`,
});
