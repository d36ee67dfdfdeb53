import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  migrate,
  migrateContinue,
  migrateIncoming,
  migrateSetCapabilities,
  queryMigrate,
} from '../commands/migration.js';
import { cont, queryStatus } from '../commands/run-state.js';
import { followMigration, type MigrationProgress } from '../helpers/follow-migration.js';
import { TestRig } from './qemu-process.js';

const rig = new TestRig();
afterEach(() => rig.cleanup());

describe('migration against real QEMU 7.2', () => {
  it('migrates A to B with events and pause-before-switchover; B is paused, then running after cont', async () => {
    const dir = await rig.tempDir();
    const migSock = join(dir, 'mig.sock');
    const qemuA = rig.startQemu(join(dir, 'a.qmp'), []);
    const qemuB = rig.startQemu(join(dir, 'b.qmp'), ['-S', '-incoming', 'defer']);
    const a = await rig.connect(qemuA);
    const b = await rig.connect(qemuB);

    expect((await queryStatus(a)).status).toBe('running');
    expect((await queryStatus(b)).status).toBe('inmigrate');
    expect(await queryMigrate(a)).toEqual({});

    await migrateSetCapabilities(b, [{ capability: 'events', state: true }]);
    const bDone = b.waitForEvent('MIGRATION', (e) => e.data['status'] === 'completed', {
      timeoutMs: 120_000,
    });
    await migrateIncoming(b, { uri: `unix:${migSock}` });

    await migrateSetCapabilities(a, [
      { capability: 'events', state: true },
      { capability: 'pause-before-switchover', state: true },
    ]);
    const aEvents = a.listen('MIGRATION');
    const stopped = a.waitForEvent('STOP');
    await migrate(a, { uri: `unix:${migSock}` });

    const seen: MigrationProgress[] = [];
    const paused = await followMigration(a, {
      untilPreSwitchover: true,
      pollMs: 100,
      timeoutMs: 120_000,
      onProgress: (p) => seen.push(p),
    });
    expect(paused.status).toBe('pre-switchover');
    expect(paused.total).toBeGreaterThan(0);
    expect(paused.pass).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeGreaterThan(0);
    await stopped;
    expect((await queryStatus(a)).status).toBe('finish-migrate');

    await migrateContinue(a, { state: 'pre-switchover' });
    const done = await followMigration(a, { pollMs: 100, timeoutMs: 120_000 });
    expect(done.status).toBe('completed');
    expect(done.downtimeMs).toBeGreaterThanOrEqual(0);
    expect(done.transferred).toBeGreaterThan(0);

    const statuses: string[] = [];
    for await (const ev of aEvents) {
      statuses.push(String(ev.data['status']));
      if (ev.data['status'] === 'completed') break;
    }
    expect(statuses).toEqual(['setup', 'active', 'pre-switchover', 'device', 'completed']);

    expect((await bDone).data).toEqual({ status: 'completed' });
    expect(await queryStatus(b)).toMatchObject({ status: 'paused', running: false });
    const resumed = b.waitForEvent('RESUME');
    await cont(b);
    await resumed;
    expect(await queryStatus(b)).toMatchObject({ status: 'running', running: true });
    expect((await queryStatus(a)).status).toBe('postmigrate');
  }, 240_000);
});
