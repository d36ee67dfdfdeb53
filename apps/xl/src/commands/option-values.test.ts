import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseBandwidth, parseDowntime } from './option-values.js';

describe('parseBandwidth', () => {
  it('turns MiB/s into bytes/s, decimals included', () => {
    expect(parseBandwidth(undefined)).toBeUndefined();
    expect(parseBandwidth('20')).toBe(20 * 1024 * 1024);
    expect(parseBandwidth('0.5')).toBe(512 * 1024);
  });

  it('refuses zero, negatives, units and non-strings with a usage error naming the value', () => {
    for (const bad of ['0', '-1', '10M', '', '1e3', true])
      expect(() => parseBandwidth(bad)).toThrow(UsageError);
    expect(() => parseBandwidth('10M')).toThrow("--bandwidth expects MiB/s as a positive number, got '10M'");
  });
});

describe('parseDowntime', () => {
  it('takes 1..9999999 ms', () => {
    expect(parseDowntime(undefined)).toBeUndefined();
    expect(parseDowntime('1')).toBe(1);
    expect(parseDowntime('9999999')).toBe(9999999);
  });

  it('refuses 0, leading zeros, too many digits', () => {
    for (const bad of ['0', '050', '10000000', '1.5', 'x'])
      expect(() => parseDowntime(bad)).toThrow(UsageError);
  });
});
