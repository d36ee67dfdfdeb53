/** Option values shared by several commands, checked once: a usage error names the flag and the value. */
import { UsageError } from '../errors.js';

/** --bandwidth MiB/s (a positive decimal) as bytes/s; undefined when not given. */
export function parseBandwidth(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value) || !(n > 0))
    throw new UsageError(`--bandwidth expects MiB/s as a positive number, got '${String(value)}'`);
  return Math.round(n * 1024 * 1024);
}

/** --max-downtime in milliseconds (1..9999999); undefined when not given. */
export function parseDowntime(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,6}$/.test(value))
    throw new UsageError(`--max-downtime expects milliseconds (1..9999999), got '${String(value)}'`);
  return Number(value);
}
