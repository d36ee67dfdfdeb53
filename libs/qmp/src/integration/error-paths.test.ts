import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blockJobCancel } from '../commands/block.js';
import { migrateIncoming } from '../commands/migration.js';
import { queryStatus } from '../commands/run-state.js';
import { QmpCommandError, QmpInterruptedError } from '../errors.js';
import { QmpClient } from '../qmp-client.js';
import { TestRig } from './qemu-process.js';

const rig = new TestRig();
afterEach(() => rig.cleanup());

describe('error paths against real QEMU 7.2', () => {
  it('a bad argument yields QmpCommandError with class GenericError and the connection stays usable', async () => {
    const dir = await rig.tempDir();
    const q = rig.startQemu(join(dir, 'q.qmp'), ['-S']);
    const c = await rig.connect(q);

    const unexpected = await c.execute('query-status', { bogus: 1 }).catch((e: unknown) => e);
    expect(unexpected).toBeInstanceOf(QmpCommandError);
    expect(unexpected).toMatchObject({
      code: 'QMP_COMMAND',
      command: 'query-status',
      errorClass: 'GenericError',
    });
    expect((unexpected as QmpCommandError).desc).toMatch(/bogus/);

    // Not started with -incoming defer.
    await expect(migrateIncoming(c, { uri: 'unix:/nonexistent' })).rejects.toMatchObject({
      errorClass: 'GenericError',
    });
    await expect(blockJobCancel(c, { device: 'no-such-job' })).rejects.toBeInstanceOf(QmpCommandError);
    await expect(c.execute('no-such-command')).rejects.toMatchObject({ errorClass: 'CommandNotFound' });
    expect((await queryStatus(c)).status).toBe('prelaunch');
  }, 60_000);

  it('killing QEMU mid-command yields QmpInterruptedError', async () => {
    const dir = await rig.tempDir();
    const q = rig.startQemu(join(dir, 'q.qmp'), ['-S']);
    const c = await rig.connect(q);
    // Freeze QEMU so the command is certainly still pending when it dies.
    await q.kill('SIGSTOP');
    const pending = c.execute('query-status').catch((e: unknown) => e);
    const events = c.listen();
    await q.kill('SIGKILL');
    const err = await pending;
    expect(err).toBeInstanceOf(QmpInterruptedError);
    expect(err).toMatchObject({ code: 'QMP_INTERRUPTED', command: 'query-status' });
    await c.closed;
    expect(await events.next()).toBeUndefined();
    await expect(queryStatus(c)).rejects.toMatchObject({ code: 'QMP_STATE' });
  }, 60_000);

  it('a second client waits in the backlog and times out its handshake while the first holds the monitor', async () => {
    const dir = await rig.tempDir();
    const q = rig.startQemu(join(dir, 'q.qmp'), ['-S']);
    await rig.connect(q);
    const err = await QmpClient.connect(q.qmpPath, { handshakeTimeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QMP_CONNECT' });
  }, 60_000);
});
