/**
 * Field checks for the JSON bodies of the disk-mirror control records (DISK_PLAN,
 * DISK_EXPORTS); the bodies themselves are decoded by json-body.ts.
 */
import { StreamError } from '../errors.js';
import { isJsonObject as isObj, type JsonObject as Obj } from './json-body.js';

export type { Obj };

export function mirrorFail(what: string, at: number, type: number): StreamError {
  return new StreamError('STREAM_BAD_RECORD', what, { offset: at, recordType: type });
}

/** A typed field reader that throws STREAM_BAD_RECORD naming the record and field. */
export function fields(what: string, at: number, type: number) {
  const bad = (m: string) => mirrorFail(`${what}: ${m}`, at, type);
  return {
    bad,
    str(o: Obj, k: string, max = 4096): string {
      const v = o[k];
      if (typeof v !== 'string' || v === '' || v.length > max || v.includes('\0'))
        throw bad(`${k} must be a non-empty string of at most ${max} characters`);
      return v;
    },
    optStr(o: Obj, k: string, max = 4096): string | undefined {
      return o[k] === undefined ? undefined : this.str(o, k, max);
    },
    int(o: Obj, k: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
      const v = o[k];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
        throw bad(`${k} must be an integer in ${min}..${max}`);
      return v;
    },
    bool(o: Obj, k: string): boolean {
      const v = o[k];
      if (typeof v !== 'boolean') throw bad(`${k} must be a boolean`);
      return v;
    },
    oneOf<T extends string>(o: Obj, k: string, allowed: readonly T[]): T {
      const v = o[k];
      if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
        throw bad(`${k} must be one of ${allowed.join(', ')}`);
      return v as T;
    },
    list(o: Obj, k: string, max: number): Obj[] {
      const v = o[k];
      if (!Array.isArray(v) || v.length > max) throw bad(`${k} must be an array of at most ${max} entries`);
      return v.map((e) => {
        if (!isObj(e)) throw bad(`${k} entry is not an object`);
        return e;
      });
    },
  };
}

/** Bounds shared by both records. */
export const MIRROR_RECORD_MAX = 256 * 1024;
export const MIRROR_MAX_DISKS = 26;
