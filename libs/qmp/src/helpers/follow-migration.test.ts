import { afterEach, describe, expect, it, vi } from 'vitest';
import { QUERY_TIMEOUT_MS } from '../default-timeouts.js';
import { QmpMigrationError } from '../errors.js';
import { withFakeClient } from '../testing/index.js';
import {
  finalMigrationFigures,
  followMigration,
  watchMigration,
  type MigrationProgress,
} from './follow-migration.js';

const ram = (transferred: number, pass: number): object => ({
  transferred,
  remaining: 1000 - transferred,
  total: 1000,
  duplicate: 0,
  skipped: 0,
  normal: 0,
  'normal-bytes': 0,
  'dirty-pages-rate': 7,
  mbps: 100.5,
  'dirty-sync-count': pass,
  'postcopy-requests': 0,
  'page-size': 4096,
  'multifd-bytes': 0,
  'pages-per-second': 10,
});

function script(states: object[]): () => object {
  let i = 0;
  return () => states[Math.min(i++, states.length - 1)] ?? {};
}

describe('followMigration', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports snapshots through to completed, with downtime', async () => {
    const states = [
      { status: 'setup' },
      { status: 'active', ram: ram(300, 1), 'expected-downtime': 300, 'total-time': 10 },
      { status: 'active', ram: ram(900, 2) },
      { status: 'completed', ram: ram(1000, 3), downtime: 12, 'total-time': 50 },
    ];
    await withFakeClient({ handlers: { 'query-migrate': script(states) } }, async (c) => {
      const seen: MigrationProgress[] = [];
      const last = await followMigration(c, { pollMs: 5, onProgress: (p) => seen.push(p) });
      expect(seen.map((p) => p.status)).toEqual(['setup', 'active', 'active', 'completed']);
      expect(seen[1]).toMatchObject({
        transferred: 300,
        remaining: 700,
        total: 1000,
        mbps: 100.5,
        dirtyPagesRate: 7,
        pass: 1,
        expectedDowntimeMs: 300,
      });
      expect(last).toMatchObject({ status: 'completed', pass: 3, downtimeMs: 12, totalTimeMs: 50 });
    });
  });

  it('final figures: a completed snapshot without them is queried again until QEMU has set them', async () => {
    // QEMU 7.2 sets `completed` first and fills in total-time and downtime a moment later.
    const states = [
      { status: 'active', ram: ram(900, 2) },
      { status: 'completed', ram: ram(1000, 3), downtime: 0, 'total-time': 0 },
      { status: 'completed', ram: ram(1000, 3), downtime: 0, 'total-time': 0 },
      { status: 'completed', ram: ram(1000, 3), downtime: 31, 'total-time': 1250 },
    ];
    let queries = 0;
    const next = script(states);
    await withFakeClient({ handlers: { 'query-migrate': () => (queries++, next()) } }, async (c) => {
      // Following stops at the first completed: the caller's next step does not wait for figures.
      const done = await followMigration(c, { pollMs: 5 });
      expect(queries).toBe(2);
      expect(done).toMatchObject({ status: 'completed', downtimeMs: 0 });
      expect(await finalMigrationFigures(c, done)).toMatchObject({
        status: 'completed',
        downtimeMs: 31,
        totalTimeMs: 1250,
      });
      expect(queries).toBe(4);
    });
  });

  it('final figures of a completed without total-time (a destination) are the snapshot itself', async () => {
    let queries = 0;
    await withFakeClient(
      { handlers: { 'query-migrate': () => (queries++, { status: 'completed' }) } },
      async (c) => {
        const done = await followMigration(c, { pollMs: 5 });
        expect(await finalMigrationFigures(c, done)).toBe(done);
        expect(queries).toBe(1);
      },
    );
  });

  it('stops at pre-switchover when asked, woken by a MIGRATION event', async () => {
    let status = 'active';
    await withFakeClient(
      { handlers: { 'query-migrate': () => ({ status, ram: ram(500, 1) }) } },
      async (c, server) => {
        const gen = watchMigration(c, { pollMs: 60_000, untilPreSwitchover: true });
        expect((await gen.next()).value).toMatchObject({ status: 'active' });
        const next = gen.next();
        status = 'pre-switchover';
        server.emitEvent('MIGRATION', { status: 'pre-switchover' });
        expect((await next).value).toMatchObject({ status: 'pre-switchover' });
        expect((await gen.next()).done).toBe(true);
      },
    );
  });

  it('waits out a query QEMU holds far past any query timeout (its final stage under the big lock)', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await withFakeClient(
      {
        handlers: {
          'query-migrate': async () => {
            await held;
            return { status: 'completed', ram: ram(1000, 3), downtime: 9, 'total-time': 400_000 };
          },
        },
      },
      async (c, server) => {
        vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
        const done = followMigration(c, { pollMs: 5 });
        await server.waitForCommand('query-migrate');
        await vi.advanceTimersByTimeAsync(QUERY_TIMEOUT_MS * 30);
        release();
        expect(await done).toMatchObject({ status: 'completed', downtimeMs: 9 });
      },
    );
  });

  it("a caller's total timeout still bounds a query QEMU does not answer", async () => {
    await withFakeClient(
      { handlers: { 'query-migrate': () => new Promise<never>(() => undefined) } },
      async (c) => {
        const err = await followMigration(c, { pollMs: 5, timeoutMs: 50 }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'QMP_TIMEOUT', timeoutMs: expect.any(Number) as number });
        expect((err as { timeoutMs: number }).timeoutMs).toBeLessThanOrEqual(50);
      },
    );
  });

  it('throws QmpMigrationError with error-desc on failure', async () => {
    const states = [{ status: 'active' }, { status: 'failed', 'error-desc': 'Unable to write to socket' }];
    await withFakeClient({ handlers: { 'query-migrate': script(states) } }, async (c) => {
      const err = await followMigration(c, { pollMs: 5 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QmpMigrationError);
      expect(err).toMatchObject({
        code: 'QMP_MIGRATION',
        status: 'failed',
        errorDesc: 'Unable to write to socket',
      });
    });
  });
});
