import { describe, expect, test } from 'vitest';
import {
  etaOf,
  fitToWidth,
  formatBytes,
  formatDuration,
  formatProgressLine,
  formatRate,
  rateOf,
} from './format.js';

describe('progress formatting', () => {
  test('sizes use binary units with one decimal, bytes exactly', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(512 * 1024 ** 2)).toBe('512.0 MiB');
    expect(formatBytes(1024 ** 3)).toBe('1.0 GiB');
    expect(formatBytes(-1)).toBe('?');
  });

  test('rates in MiB/s, durations as m:ss or h:mm:ss rounded up', () => {
    expect(formatRate(300 * 1024 ** 2)).toBe('300.0 MiB/s');
    expect(formatRate(Number.NaN)).toBe('? MiB/s');
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(1.2)).toBe('0:02');
    expect(formatDuration(61)).toBe('1:01');
    expect(formatDuration(3661)).toBe('1:01:01');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });

  test('rate is the average over the phase; ETA prefers remaining over total', () => {
    const s = { operation: 'save', phase: 'ram', bytes: 100 * 1024 ** 2, elapsed: 2 };
    expect(rateOf(s)).toBe(50 * 1024 ** 2);
    expect(etaOf(s)).toBeUndefined();
    expect(etaOf({ ...s, total: 200 * 1024 ** 2 })).toBe(2);
    expect(etaOf({ ...s, total: 200 * 1024 ** 2, remaining: 50 * 1024 ** 2 })).toBe(1);
    expect(etaOf({ ...s, elapsed: 0, total: 1 })).toBeUndefined();
  });

  test('the status line names operation, phase, amount, percentage, rate and ETA', () => {
    expect(
      formatProgressLine({
        operation: 'restore',
        phase: 'ram',
        bytes: 512 * 1024 ** 2,
        total: 1024 ** 3,
        elapsed: 2,
      }),
    ).toBe('restore ram: 512.0 MiB / 1.0 GiB (50%), 256.0 MiB/s, ETA 0:02');
    expect(formatProgressLine({ operation: 'save', phase: 'ram', bytes: 1024, elapsed: 1 })).toBe(
      'save ram: 1.0 KiB, 0.0 MiB/s',
    );
  });
});

describe('fitToWidth', () => {
  test('cuts to one column short of the edge, marked with …; short lines and unknown widths stay', () => {
    expect(fitToWidth('abcdefghij', 8)).toBe('abcdef…');
    expect(fitToWidth('abcdefg', 8)).toBe('abcdefg');
    expect(fitToWidth('abcdefghij', undefined)).toBe('abcdefghij');
    expect(fitToWidth('abcdefghij', 0)).toBe('abcdefghij');
    expect(Array.from(fitToWidth('ééééééééé', 6))).toHaveLength(5);
  });
});
