import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readProcStat } from './process-info.js';

describe('readProcStat', () => {
  it('counts the CPU time of a reaped child under reapedChildrenCpuSeconds, not cpuSeconds', () => {
    const before = readProcStat(process.pid);
    expect(before?.state).toMatch(/^[RS]$/);
    // A child that spins for 200 ms of its own CPU time, waited for (so reaped) before returning.
    execFileSync(process.execPath, [
      '-e',
      'const t = process.cpuUsage(); while ((process.cpuUsage(t).user) < 200_000);',
    ]);
    const after = readProcStat(process.pid);
    expect(
      (after?.reapedChildrenCpuSeconds ?? 0) - (before?.reapedChildrenCpuSeconds ?? 0),
    ).toBeGreaterThanOrEqual(0.15);
    expect((after?.cpuSeconds ?? 0) - (before?.cpuSeconds ?? 0)).toBeLessThan(0.15);
  });

  it('is undefined for a pid that does not exist', () => {
    expect(readProcStat(2 ** 22 + 12345)).toBeUndefined();
  });
});
