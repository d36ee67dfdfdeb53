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

/**
 * --postcopy [--postcopy-after PASSES | --postcopy-after-time SECONDS]: undefined without
 * --postcopy; with it, when to switch (neither: only on request, `xl migrate-postcopy`).
 */
export function parsePostcopy(
  v: Record<string, unknown>,
): { afterPasses?: number; afterSeconds?: number } | undefined {
  const passes = v['postcopy-after'];
  const seconds = v['postcopy-after-time'];
  if (v.postcopy !== true) {
    for (const k of ['postcopy-after', 'postcopy-after-time'])
      if (v[k] !== undefined) throw new UsageError(`--${k} needs --postcopy`);
    return undefined;
  }
  if (passes !== undefined && seconds !== undefined)
    throw new UsageError('--postcopy-after and --postcopy-after-time exclude each other');
  if (passes !== undefined) {
    if (typeof passes !== 'string' || !/^[1-9][0-9]{0,3}$/.test(passes))
      throw new UsageError(`--postcopy-after expects a number of passes (1..9999), got '${String(passes)}'`);
    return { afterPasses: Number(passes) };
  }
  if (seconds !== undefined) {
    const n = Number(seconds);
    if (typeof seconds !== 'string' || !/^\d+(\.\d+)?$/.test(seconds) || !(n > 0) || n > 86400) {
      throw new UsageError(
        `--postcopy-after-time expects seconds (0 < s <= 86400), got '${String(seconds)}'`,
      );
    }
    return { afterSeconds: n };
  }
  return {};
}

/** --max-downtime in milliseconds (1..9999999); undefined when not given. */
export function parseDowntime(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,6}$/.test(value))
    throw new UsageError(`--max-downtime expects milliseconds (1..9999999), got '${String(value)}'`);
  return Number(value);
}
