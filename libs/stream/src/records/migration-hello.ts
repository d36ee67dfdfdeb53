/**
 * MIGRATION_HELLO: the first record each side of a live migration sends, in both directions:
 * the protocol versions it speaks, the features it offers and the ones this migration needs
 * from the peer. Lets either side refuse before anything is touched.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { defineRecord } from '../record-codec.js';
import { jsonBody } from './json-body.js';

export interface MigrationHello {
  /** Lowest and highest migration protocol version this side speaks. */
  minVersion: number;
  maxVersion: number;
  /** Features this side implements. */
  features: string[];
  /** Features this migration needs the peer to implement. */
  requires: string[];
  /** Free text naming the software, for messages only. */
  software: string;
  /** The host's name as it reports it (for messages: "now runs on web2"). */
  hostname?: string;
  /** The host's kernel boot id: equal on both ends means one host (same kernel). */
  bootId?: string;
}

/** A host name as messages may show it: DNS-like characters only, at most 253 of them. */
export const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const BOOT_ID = /^[0-9a-f-]{1,64}$/;

const TYPE = XLKIT_MANDATORY_BASE + 5;
export const MIGRATION_HELLO_MAX = 64 * 1024;
export const FEATURE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const MAX_FEATURES = 64;
const json = jsonBody({ type: TYPE, what: 'migration hello', maxLength: MIGRATION_HELLO_MAX });

function fail(what: string, at: number): StreamError {
  return new StreamError('STREAM_BAD_RECORD', `migration hello: ${what}`, { offset: at, recordType: TYPE });
}

function names(o: Record<string, unknown>, k: string, at: number): string[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length > MAX_FEATURES)
    throw fail(`${k} must be an array of at most ${MAX_FEATURES} names`, at);
  for (const f of v)
    if (typeof f !== 'string' || !FEATURE_NAME.test(f)) throw fail(`${k} holds a bad feature name`, at);
  return [...new Set(v as string[])];
}

function version(o: Record<string, unknown>, k: string, at: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 0xffff)
    throw fail(`${k} must be an integer 1..65535`, at);
  return v;
}

/** Check a parsed MIGRATION_HELLO value; unknown extra fields are kept and ignored. */
export function checkMigrationHello(o: Record<string, unknown>, at = 0): MigrationHello {
  const minVersion = version(o, 'minVersion', at);
  const maxVersion = version(o, 'maxVersion', at);
  if (minVersion > maxVersion) throw fail('minVersion above maxVersion', at);
  const software = o.software;
  if (typeof software !== 'string' || software.length > 200)
    throw fail('software must be a string of at most 200 characters', at);
  for (const [k, shape] of [
    ['hostname', HOSTNAME],
    ['bootId', BOOT_ID],
  ] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'string' || !shape.test(v)))
      throw fail(`${k} must be a string matching ${String(shape)}`, at);
  }
  return {
    ...o,
    minVersion,
    maxVersion,
    features: names(o, 'features', at),
    requires: names(o, 'requires', at),
    software,
  };
}

export const MIGRATION_HELLO = defineRecord<MigrationHello>({
  type: TYPE,
  name: 'MIGRATION_HELLO',
  minLength: json.minLength,
  maxLength: json.maxLength,
  maxCount: 1,
  decode: (body, len, at) => checkMigrationHello(json.decode(body, len, at), at),
  encode: (v) => json.encode(checkMigrationHello(v as unknown as Record<string, unknown>)),
  summary: (v) =>
    `protocol ${v.minVersion}..${v.maxVersion}, features ${v.features.join(',') || 'none'}, requires ${v.requires.join(',') || 'none'} (${v.software})`,
});
