import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { MigrationProgress } from '@xlkit/qmp';
import { ProgressReporter } from '../progress/reporter.js';
import { RATE_WINDOW_MS, StatusBoard } from './status-board.js';

const MiB = 1024 ** 2;

function rig() {
  let now = 1_000;
  const session = { goSent: false, failure: new AbortController() };
  const board = new StatusBoard({ domain: 'web', host: 'host2' }, () => now);
  board.follow(session);
  // A quiet reporter, as `xl migrate` without --json and a terminal has: observers see it all the same.
  const progress = new ProgressReporter(
    { stdout: new PassThrough(), stderr: new PassThrough() },
    { mode: 'quiet', operation: 'migrate', now: () => now },
  );
  progress.observe(board);
  return { board, progress, session, tick: (ms: number) => (now += ms) };
}

const qemu = (expectedDowntimeMs: number | undefined) => ({ expectedDowntimeMs }) as MigrationProgress;

describe('StatusBoard', () => {
  it('follows the phases and the progress of a quiet reporter, with a windowed rate', () => {
    const { board, progress, tick } = rig();
    expect(board.snapshot()).toEqual({
      domain: 'web',
      host: 'host2',
      phase: 'start',
      bytes: 0,
      rate: 0,
      elapsed: 0,
      abortable: true,
      aborted: false,
    });
    progress.phase('handshake');
    tick(500);
    progress.phase('ram');
    for (let i = 1; i <= 20; i++) {
      tick(250);
      board.ram(qemu(40));
      progress.update(() => ({
        bytes: i * 10 * MiB,
        total: 1024 * MiB,
        remaining: 1024 * MiB - i * 10 * MiB,
        fields: { pass: 2, dirtyPagesRate: 1200, status: 'active' },
      }));
    }
    const s = board.snapshot();
    expect(s).toMatchObject({
      phase: 'ram',
      bytes: 200 * MiB,
      total: 1024 * MiB,
      remaining: 824 * MiB,
      pass: 2,
      dirtyPagesRate: 1200,
      expectedDowntimeMs: 40,
      elapsed: 5.5,
      abortable: true,
    });
    expect(s.rate).toBe(40 * MiB); // 10 MiB per 250 ms
  });

  it('the rate falls to 0 when progress stalls, and restarts with each phase', () => {
    const { board, progress, tick } = rig();
    progress.phase('ram');
    tick(1000);
    progress.update({ bytes: 8 * MiB });
    expect(board.snapshot().rate).toBe(8 * MiB);
    tick(RATE_WINDOW_MS + 1);
    expect(board.snapshot().rate).toBe(0);
    expect(board.snapshot().bytes).toBe(8 * MiB);
    progress.phase('switchover');
    tick(1000);
    expect(board.snapshot()).toMatchObject({ phase: 'switchover', bytes: 8 * MiB, rate: 0 });
  });

  it("drops an earlier phase's QEMU figures once the next phase reports, and omits what QEMU did not give", () => {
    const { board, progress, tick } = rig();
    progress.phase('mirror');
    tick(300);
    progress.update({ bytes: 5, total: 10, fields: { disks: [] } });
    progress.phase('ram');
    tick(300);
    board.ram(qemu(undefined));
    progress.update({ bytes: 1, fields: { pass: -1, dirtyPagesRate: 'many' } });
    const s = board.snapshot();
    expect(s).toMatchObject({ phase: 'ram', bytes: 1 });
    for (const k of ['total', 'remaining', 'pass', 'dirtyPagesRate', 'expectedDowntimeMs'])
      expect(s, k).not.toHaveProperty(k);
  });

  it('is abortable until GO; says when it is being rolled back', () => {
    const { board, session } = rig();
    session.failure.abort(new Error('x'));
    expect(board.snapshot()).toMatchObject({ abortable: true, aborted: true });
    session.goSent = true;
    expect(board.snapshot()).toMatchObject({ abortable: false });
    expect(new StatusBoard({ domain: 'd', host: 'h' }).snapshot().abortable).toBe(false);
  });
});
