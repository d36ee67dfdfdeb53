import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { availableMemoryMiB } from './host-memory.js';

describe('host memory', () => {
  test("is the kernel's MemAvailable, not MemFree", () => {
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(meminfo)?.[1]);
    const available = Math.floor(kib('MemAvailable') / 1024);
    // Read a moment apart, so allow for what the machine did in between.
    expect(Math.abs(availableMemoryMiB() - available)).toBeLessThanOrEqual(64);
    expect(availableMemoryMiB()).toBeLessThanOrEqual(Math.floor(kib('MemTotal') / 1024));
  });
});
