import { describe, expect, it } from 'vitest';
import type { MigrationProgress, QmpClient } from '@xlkit/qmp';
import { XlError } from '../errors.js';
import { ConvergenceLadder, ladderPolicy } from './convergence-ladder.js';
import { LadderDriver, THROTTLE_DORMANT, THROTTLE_ON, type LadderHost } from './ladder-driver.js';

const MiB = 1024 * 1024;

/** A stuck pass: 32 MiB at its start, the link at 8 MiB/s, the guest dirtying 4 MiB/s. */
function stuck(pass: number): MigrationProgress {
  return {
    status: 'active',
    transferred: 0,
    remaining: 32 * MiB,
    total: 128 * MiB,
    mbps: (8 * MiB * 8) / 1e6,
    dirtyPagesRate: 1024,
    pass,
    totalTimeMs: undefined,
    expectedDowntimeMs: undefined,
    downtimeMs: undefined,
    errorDesc: undefined,
    info: { status: 'active' },
  };
}

function fakeHost(o: { fail?: string; throttle?: boolean; postcopy?: boolean } = {}) {
  const calls: [string, unknown][] = [];
  const events: Record<string, unknown>[] = [];
  const aborts: XlError[] = [];
  let postcopy = false;
  let live = true;
  const qmp = {
    execute: (command: string, args?: unknown) => {
      calls.push([command, args]);
      return command === o.fail ? Promise.reject(new Error(`${command}: refused`)) : Promise.resolve({});
    },
  } as unknown as QmpClient;
  const host: LadderHost = {
    qmp,
    event: (name, data) => events.push({ event: name, ...data }),
    requestPostcopy: () => (postcopy = true),
    abort: (err) => aborts.push(err),
    live: () => live,
  };
  const policy = ladderPolicy({ throttle: o.throttle ?? true, postcopy: o.postcopy ?? false });
  const driver = new LadderDriver(new ConvergenceLadder(policy, () => 0), host);
  return {
    driver,
    calls,
    events,
    aborts,
    postcopy: () => postcopy,
    end: () => (live = false),
  };
}

describe('LadderDriver', () => {
  it('arms QEMU at once, before anything else is sent: the start limit and a dormant throttle', () => {
    const h = fakeHost();
    h.driver.arm();
    // Synchronously: the transport's `migrate` comes after these on the same connection.
    expect(h.calls).toEqual([['migrate-set-parameters', { 'downtime-limit': 300, ...THROTTLE_DORMANT }]]);
    // The capability goes with the transport's own (every migration sets it, on or off).
    expect(h.driver.autoConverge).toBe(true);
  });

  it('with --no-throttle, auto-converge stays off and the throttle is left alone', () => {
    const h = fakeHost({ throttle: false });
    h.driver.arm();
    expect(h.calls).toEqual([['migrate-set-parameters', { 'downtime-limit': 300 }]]);
    expect(h.driver.autoConverge).toBe(false);
  });

  it('applies each rung in order and reports it; the abort fails the migration with the figures', async () => {
    const h = fakeHost();
    h.driver.arm();
    for (let pass = 1; pass <= 18; pass++) h.driver.sample(stuck(pass));
    await h.driver.settled();
    expect(h.calls.slice(1)).toEqual([
      ['migrate-set-parameters', { 'downtime-limit': 600 }],
      ['migrate-set-parameters', { 'downtime-limit': 1000 }],
      ['migrate-set-parameters', THROTTLE_ON],
    ]);
    expect(h.events.map((e) => [e.event, e.step, e.downtimeMs])).toEqual([
      ['converge-step', 'downtime', 600],
      ['converge-step', 'downtime', 1000],
      ['converge-step', 'throttle', undefined],
      ['converge-step', 'abort', undefined],
    ]);
    expect(h.events[0]).toMatchObject({
      reason: 'no-new-low',
      pass: 5,
      passes: 3,
      remaining: 32 * MiB,
      lowest: 32 * MiB,
      linkRate: 8 * MiB,
      dirtyRate: 4 * MiB,
    });
    expect(h.aborts).toHaveLength(1);
    expect(h.aborts[0]).toBeInstanceOf(XlError);
    expect(h.aborts[0]!.code).toBe('XL_MIGRATION');
    expect(h.aborts[0]!.message).toMatch(
      /^not converging: 32\.0 MiB remaining after 17 passes .* dirty rate 4\.0 MiB\/s vs link 8\.0 MiB\/s/,
    );
    expect(h.events.at(-1)!.message).toBe(h.aborts[0]!.message);
  });

  it('the post-copy rung asks the transport to switch', () => {
    const h = fakeHost({ postcopy: true, throttle: false });
    for (let pass = 1; pass <= 20; pass++) h.driver.sample(stuck(pass));
    expect(h.postcopy()).toBe(true);
    expect(h.aborts).toEqual([]);
  });

  it('a QMP call that fails fails the migration', async () => {
    const h = fakeHost({ fail: 'migrate-set-parameters' });
    h.driver.arm();
    await h.driver.settled();
    expect(h.aborts.map((e) => e.message)).toEqual([
      "the convergence ladder's setup step failed: migrate-set-parameters: refused",
    ]);
  });

  it('once the RAM phase is over (or the migration past GO), nothing is applied or reported', async () => {
    const h = fakeHost({ fail: 'migrate-set-parameters' });
    for (let pass = 1; pass <= 5; pass++) h.driver.sample(stuck(pass));
    h.driver.stop();
    await h.driver.settled();
    expect(h.aborts).toEqual([]);
    const g = fakeHost();
    g.end();
    for (let pass = 1; pass <= 20; pass++) g.driver.sample(stuck(pass));
    expect([g.calls, g.events, g.aborts]).toEqual([[], [], []]);
  });
});
