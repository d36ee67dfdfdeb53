import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { availableMemoryMiB, parseMemAvailableMiB } from './host-memory.js';

describe('host memory', () => {
  test('reads MemAvailable, not MemFree', () => {
    const text = 'MemTotal:       24684084 kB\nMemFree:         1023300 kB\nMemAvailable:   19023300 kB\nBuffers: 1 kB\n';
    expect(parseMemAvailableMiB(text)).toBe(Math.floor(19023300 / 1024));
    expect(parseMemAvailableMiB('MemTotal: 1 kB\n')).toBeUndefined();
  });

  test('falls back to free memory when meminfo has no MemAvailable', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-meminfo-'));
    try {
      writeFileSync(path.join(dir, 'meminfo'), 'MemTotal: 8 kB\n');
      const got = await availableMemoryMiB(path.join(dir, 'meminfo'));
      expect(got).toBeGreaterThan(0);
      expect(got).toBeLessThanOrEqual(Math.floor(os.totalmem() / 1024 ** 2));
      expect(await availableMemoryMiB()).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
