import { describe, expect, it } from 'vitest';
import { ConvergenceWatch } from './convergence.js';

const MiB = 1024 * 1024;

describe('ConvergenceWatch', () => {
  it('stays quiet while remaining keeps shrinking', () => {
    const w = new ConvergenceWatch(10_000);
    for (let t = 0; t <= 60_000; t += 1000)
      expect(w.sample({ remaining: (1000 - t / 100) * MiB, at: t })).toBeUndefined();
  });

  it('reports a stall with the numbers once no new low came for the window', () => {
    const w = new ConvergenceWatch(10_000);
    w.sample({ remaining: 500 * MiB, at: 0 });
    w.sample({ remaining: 300 * MiB, at: 1000 });
    // Guest dirties as fast as the copy: remaining hovers around 300-320 MiB.
    let stall;
    for (let t = 2000; t <= 11_000 && !stall; t += 1000)
      stall = w.sample({ remaining: (300 + (t % 3000 === 0 ? 20 : 5)) * MiB, at: t });
    expect(stall).toEqual({ remaining: 305 * MiB, lowest: 300 * MiB, sinceMs: 10_000 });
  });

  it('ignores gains smaller than minGain, and a real gain restarts the window', () => {
    const w = new ConvergenceWatch(5000, MiB);
    w.sample({ remaining: 100 * MiB, at: 0 });
    expect(w.sample({ remaining: 100 * MiB - 1000, at: 4000 })).toBeUndefined();
    expect(w.sample({ remaining: 100 * MiB - 2000, at: 5000 })).toBeDefined();
    expect(w.sample({ remaining: 90 * MiB, at: 6000 })).toBeUndefined();
    expect(w.sample({ remaining: 90 * MiB, at: 10_999 })).toBeUndefined();
    expect(w.sample({ remaining: 90 * MiB, at: 11_000 })).toBeDefined();
  });

  it('a small disk reaching zero remaining converges', () => {
    const w = new ConvergenceWatch(1000);
    w.sample({ remaining: 10, at: 0 });
    expect(w.sample({ remaining: 0, at: 5000 })).toBeUndefined();
  });
});
