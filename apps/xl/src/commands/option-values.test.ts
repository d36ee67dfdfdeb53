import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseBandwidth, parseDowntime, parsePostcopy } from './option-values.js';

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

describe('parsePostcopy', () => {
  it('is off without --postcopy, on request only with it alone, else after passes or seconds', () => {
    expect(parsePostcopy({})).toBeUndefined();
    expect(parsePostcopy({ postcopy: true })).toEqual({});
    expect(parsePostcopy({ postcopy: true, 'postcopy-after': '1' })).toEqual({ afterPasses: 1 });
    expect(parsePostcopy({ postcopy: true, 'postcopy-after-time': '2.5' })).toEqual({ afterSeconds: 2.5 });
  });

  it('refuses the switch options without --postcopy, both at once, and bad numbers', () => {
    expect(() => parsePostcopy({ 'postcopy-after': '1' })).toThrow('--postcopy-after needs --postcopy');
    expect(() =>
      parsePostcopy({ postcopy: true, 'postcopy-after': '1', 'postcopy-after-time': '1' }),
    ).toThrow(/exclude each other/);
    for (const bad of ['0', '-1', 'x', '10000'])
      expect(() => parsePostcopy({ postcopy: true, 'postcopy-after': bad })).toThrow(UsageError);
    for (const bad of ['0', '-1', 'x', '86401'])
      expect(() => parsePostcopy({ postcopy: true, 'postcopy-after-time': bad })).toThrow(UsageError);
  });
});
