import { describe, expect, it } from 'vitest';
import type { MigrationProgress } from '@xlkit/qmp';
import {
  ConvergenceLadder,
  ladderPolicy,
  type LadderAction,
  type LadderPolicy,
} from './convergence-ladder.js';

const MiB = 1024 * 1024;

interface Fake {
  status?: MigrationProgress['status'];
  /** Guest dirty rate, MiB/s (default 4: below the link). */
  dirty?: number;
  /** Link rate, MiB/s (default 8). */
  link?: number;
  throttle?: number;
}

/** A query-migrate sample: `pass` (dirty-sync-count), `remaining` in MiB. */
function sample(pass: number, remaining: number, f: Fake = {}): MigrationProgress {
  const link = f.link ?? 8;
  const dirtyPagesRate = ((f.dirty ?? 4) * MiB) / 4096;
  const mbps = (link * MiB * 8) / 1e6;
  return {
    status: f.status ?? 'active',
    transferred: 0,
    remaining: remaining * MiB,
    total: 128 * MiB,
    mbps,
    dirtyPagesRate,
    pass,
    totalTimeMs: undefined,
    expectedDowntimeMs: undefined,
    downtimeMs: undefined,
    errorDesc: undefined,
    info: {
      status: f.status ?? 'active',
      ...(f.throttle === undefined ? {} : { 'cpu-throttle-percentage': f.throttle }),
      ram: {
        transferred: 0,
        remaining: remaining * MiB,
        total: 128 * MiB,
        duplicate: 0,
        skipped: 0,
        normal: 0,
        'normal-bytes': 0,
        'dirty-pages-rate': dirtyPagesRate,
        mbps,
        'dirty-sync-count': pass,
        'postcopy-requests': 0,
        'page-size': 4096,
        'multifd-bytes': 0,
        'pages-per-second': 0,
      },
    },
  };
}

/** A fake clock, one second per pass. */
function ladder(o: Partial<Parameters<typeof ladderPolicy>[0]> = {}, tuning: Partial<LadderPolicy> = {}) {
  let t = 0;
  const l = new ConvergenceLadder(ladderPolicy({ throttle: true, postcopy: false, ...o }, tuning), () => t);
  return {
    l,
    /** Feeds pass after pass (a few samples each, as QEMU's figure falls within the pass); returns [pass, action] per rung taken. */
    run(passes: number[], remaining: (pass: number) => number, f: (pass: number) => Fake = () => ({})) {
      const steps: [number, LadderAction][] = [];
      for (const pass of passes) {
        t = pass * 1000;
        for (const part of [1, 0.5, 0.1]) {
          const a = l.sample(sample(pass, remaining(pass) * part, f(pass)));
          if (a !== undefined) steps.push([pass, a]);
        }
      }
      return steps;
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const stuck = () => 32;

describe('ConvergenceLadder', () => {
  it('a converging migration triggers nothing', () => {
    const { l, run } = ladder();
    // Each pass starts at 70% of the last: slow, but steady.
    expect(run(range(1, 30), (p) => 64 * 0.7 ** p)).toEqual([]);
    expect(l.note).toBeUndefined();
    expect(l.fields).toEqual({});
  });

  it('a stuck migration climbs every rung in order: downtime doubled up to 1000 ms, throttle, abort', () => {
    const { l, run } = ladder();
    const steps = run(range(1, 30), stuck, (p) => (p >= 8 ? { throttle: 26 } : {}));
    expect(steps.map(([pass, a]) => [pass, a.step, 'downtimeMs' in a ? a.downtimeMs : undefined])).toEqual([
      // 3 passes without a new low after pass 2 ...
      [5, 'downtime', 600],
      // ... then one pass for each raised limit (QEMU applies it at the end of the pass) ...
      [6, 'downtime', 1000],
      [7, 'throttle', undefined],
      // ... and ten for the throttle to ramp up.
      [17, 'abort', undefined],
    ]);
    expect(steps[0]![1].figures).toMatchObject({
      reason: 'no-new-low',
      pass: 5,
      passes: 3,
      remaining: 32 * MiB,
      lowest: 32 * MiB,
      lowestPass: 2,
    });
    expect(l.finished).toBe(true);
    expect(run(range(31, 40), stuck)).toEqual([]);
  });

  it('the abort gives the figures that explain it', () => {
    const { run } = ladder();
    const steps = run(range(1, 16), stuck, (p) => ({
      dirty: 15,
      link: 6,
      ...(p >= 6 ? { throttle: 51 } : {}),
    }));
    const last = steps.at(-1)![1];
    expect(last.step).toBe('abort');
    expect(last.step === 'abort' && last.message).toBe(
      'not converging: 32.0 MiB remaining after 15 passes (lowest 32.0 MiB at pass 2), ' +
        'dirty rate 15.0 MiB/s vs link 6.0 MiB/s, 15 s; tried downtime limit 1000 ms, vCPUs throttled to 51%; ' +
        'with --postcopy it would move anyway',
    );
  });

  it('--no-throttle skips the throttle rung', () => {
    const { run } = ladder({ throttle: false });
    const steps = run(range(1, 20), stuck);
    expect(steps.map(([pass, a]) => [pass, a.step])).toEqual([
      [5, 'downtime'],
      [6, 'downtime'],
      [7, 'abort'],
    ]);
    const abort = steps.at(-1)![1];
    expect(abort.step === 'abort' && abort.message).toContain(
      'tried downtime limit 1000 ms, no throttle (--no-throttle)',
    );
  });

  it('post-copy comes last, only when allowed, and ends the ladder instead of the abort', () => {
    const withPostcopy = ladder({ postcopy: true }).run(range(1, 30), stuck);
    expect(withPostcopy.map(([pass, a]) => [pass, a.step])).toEqual([
      [5, 'downtime'],
      [6, 'downtime'],
      [7, 'throttle'],
      [17, 'postcopy'],
    ]);
    const noThrottle = ladder({ postcopy: true, throttle: false });
    expect(noThrottle.run(range(1, 30), stuck).map(([, a]) => a.step)).toEqual([
      'downtime',
      'downtime',
      'postcopy',
    ]);
    expect(noThrottle.l.note).toBe('not converging: switching to post-copy');
  });

  it('--max-downtime is never exceeded: no downtime rung', () => {
    const { l, run } = ladder({ maxDowntimeMs: 500, throttle: false });
    const steps = run(range(1, 20), stuck);
    expect(steps.map(([pass, a]) => [pass, a.step])).toEqual([[5, 'abort']]);
    expect(l.downtimeMs).toBe(500);
    const abort = steps[0]![1];
    expect(abort.step === 'abort' && abort.message).toContain('downtime limit 500 ms (--max-downtime)');
  });

  it('the limit starts at --max-downtime and stays there; without it, 300 ms up to 1000', () => {
    expect(ladderPolicy({ maxDowntimeMs: 2000, throttle: true, postcopy: false })).toMatchObject({
      startDowntimeMs: 2000,
      ceilingDowntimeMs: 2000,
    });
    expect(ladderPolicy({ throttle: true, postcopy: false })).toMatchObject({
      startDowntimeMs: 300,
      ceilingDowntimeMs: 1000,
    });
  });

  it('a dirty rate above the link for two passes counts as not converging before the window ends', () => {
    const { run } = ladder();
    const steps = run(range(1, 3), stuck, () => ({ dirty: 16, link: 8 }));
    expect(steps).toHaveLength(1);
    expect(steps[0]![0]).toBe(3);
    expect(steps[0]![1]).toMatchObject({
      step: 'downtime',
      downtimeMs: 600,
      figures: { reason: 'dirty-rate', dirtyRate: 16 * MiB, linkRate: 8 * MiB },
    });
  });

  it('the dirty rate does not cut the throttle short: it gets its passes', () => {
    const { run } = ladder();
    const steps = run(range(1, 30), stuck, () => ({ dirty: 16, link: 8 }));
    const throttle = steps.find(([, a]) => a.step === 'throttle')![0];
    const abort = steps.find(([, a]) => a.step === 'abort')![0];
    expect(abort - throttle).toBe(10);
  });

  it('a new low after a rung restarts the count: the throttle worked, no abort', () => {
    const { l, run } = ladder();
    // Stuck at 32 MiB until the throttle (pass 7), then each pass starts a third lower.
    const steps = run(
      range(1, 20),
      (p) => (p <= 7 ? 32 : 32 * (2 / 3) ** (p - 7)),
      () => ({ throttle: 76 }),
    );
    expect(steps.map(([, a]) => a.step)).toEqual(['downtime', 'downtime', 'throttle']);
    expect(l.finished).toBe(false);
    expect(l.note).toBe('not converging: downtime limit 1000 ms, vCPU throttle 76%');
    expect(l.fields).toEqual({ downtimeLimitMs: 1000, throttlePercent: 76 });
  });

  it('the drop a higher limit causes by itself (QEMU syncs earlier) is no progress', () => {
    const { run } = ladder();
    // Each rung lowers the plateau once; the migration still does not end.
    const steps = run(range(1, 9), (p) => (p <= 5 ? 32 : p === 6 ? 24 : 18));
    expect(steps.map(([pass, a]) => [pass, a.step])).toEqual([
      [5, 'downtime'],
      [6, 'downtime'],
      [7, 'throttle'],
    ]);
  });

  it('what the link moves between the sync and the sample is no new low', () => {
    const { run } = ladder();
    // Link 8 MiB/s, samples up to 0.5 s after the sync: up to 4 MiB less is noise (12% of 32 MiB).
    const steps = run(range(1, 5), (p) => (p % 2 === 0 ? 32 : 28.5));
    expect(steps.map(([pass, a]) => [pass, a.step])).toEqual([[5, 'downtime']]);
  });

  it('counts only pre-copy passes: setup, pre-switchover and post-copy samples are ignored', () => {
    const { l } = ladder();
    for (const status of ['setup', 'pre-switchover', 'postcopy-active', 'device'] as const)
      for (let pass = 1; pass <= 20; pass++) expect(l.sample(sample(pass, 32, { status }))).toBeUndefined();
    expect(l.note).toBeUndefined();
  });

  it('passes that went by between two samples all count', () => {
    const { run } = ladder();
    const steps = run([1, 2, 9], stuck);
    expect(steps).toHaveLength(1);
    expect(steps[0]![1]).toMatchObject({ step: 'downtime', figures: { pass: 9, passes: 7 } });
  });
});
