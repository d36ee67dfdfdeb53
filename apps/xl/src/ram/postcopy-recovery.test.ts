/** The destination's half of post-copy recovery against a fake QMP server (no QEMU). */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testing } from '@xlkit/qmp';
import { armAfresh, recoveryArmed, RecoveryMonitor } from './postcopy-recovery.js';

const { FakeCommandError, FakeQmpServer } = testing;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function scratch(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xlkit-recovery-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('RecoveryMonitor', () => {
  it('arms migrate-recover out of band once QEMU paused, while its main loop is blocked', async () => {
    const dir = await scratch();
    let paused = false;
    const server = await FakeQmpServer.start({
      handlers: {
        'migrate-recover': (args) => {
          if (!paused)
            throw new FakeCommandError(
              'GenericError',
              'Migrate recover can only be run when postcopy is paused.',
            );
          // QEMU listens on the URI's socket from then on.
          const listener = createServer().listen(String(args['uri']).slice('unix:'.length));
          cleanup.push(() => new Promise((r) => listener.close(() => r())));
          return {};
        },
      },
    });
    cleanup.push(() => server.close());
    const monitor = await RecoveryMonitor.open(server.socketPath);
    cleanup.push(() => monitor.close());
    server.blockMainLoop();
    setTimeout(() => (paused = true), 150);
    const socket = path.join(dir, 'recover.sock');
    expect(await recoveryArmed(socket)).toBe(false);
    await monitor.arm(socket, { pollMs: 20 });
    expect(await recoveryArmed(socket)).toBe(true);
    const tries = server.commands.filter((c) => c.execute === 'migrate-recover');
    expect(tries.length).toBeGreaterThan(1);
    expect(tries.at(-1)?.arguments).toEqual({ uri: `unix:${socket}` });
    server.unblockMainLoop();
  });

  it('makes a QEMU that never noticed the broken link pause (migrate-pause), then arms it', async () => {
    const dir = await scratch();
    let paused = false;
    const server = await FakeQmpServer.start({
      handlers: {
        'migrate-pause': () => {
          paused = true;
          return {};
        },
        'migrate-recover': (args) => {
          if (!paused)
            throw new FakeCommandError(
              'GenericError',
              'Migrate recover can only be run when postcopy is paused.',
            );
          const listener = createServer().listen(String(args['uri']).slice('unix:'.length));
          cleanup.push(() => new Promise((r) => listener.close(() => r())));
          return {};
        },
      },
    });
    cleanup.push(() => server.close());
    const monitor = await RecoveryMonitor.open(server.socketPath);
    cleanup.push(() => monitor.close());
    server.blockMainLoop();
    const socket = path.join(dir, 'recover.sock');
    await monitor.arm(socket, { pollMs: 20, pauseAfterMs: 100, timeoutMs: 5_000 });
    expect(await recoveryArmed(socket)).toBe(true);
    const names = server.commands.map((c) => c.execute);
    // Asked once, out of band, only after QEMU refused for a while on its own.
    expect(names.filter((n) => n === 'migrate-pause')).toHaveLength(1);
    expect(names.indexOf('migrate-pause')).toBeGreaterThan(1);
    server.unblockMainLoop();
  });

  it("gives up after its deadline with QEMU's refusal", async () => {
    const dir = await scratch();
    const server = await FakeQmpServer.start({
      handlers: {
        'migrate-recover': () => {
          throw new FakeCommandError(
            'GenericError',
            'Migrate recover can only be run when postcopy is paused.',
          );
        },
      },
    });
    cleanup.push(() => server.close());
    const monitor = await RecoveryMonitor.open(server.socketPath);
    cleanup.push(() => monitor.close());
    await expect(monitor.arm(path.join(dir, 'r.sock'), { timeoutMs: 100, pollMs: 20 })).rejects.toThrow(
      /QEMU did not take migrate-recover: .*only be run when postcopy is paused/,
    );
    // Not asked to: QEMU is never made to pause (relayed, xl closed its channel itself).
    expect(server.commands.map((c) => c.execute)).not.toContain('migrate-pause');
  });

  it('refuses a monitor without oob', async () => {
    const server = await FakeQmpServer.start({ capabilities: [] });
    cleanup.push(() => server.close());
    await expect(RecoveryMonitor.open(server.socketPath)).rejects.toThrow(
      /cannot open the post-copy recovery monitor .*offering oob/,
    );
  });
});

describe('recoveryArmed', () => {
  it('is true only while something listens there: a socket file left behind is not a recovery', async () => {
    const dir = await scratch();
    const socket = path.join(dir, 'recover.sock');
    expect(await recoveryArmed(socket)).toBe(false);
    const listener = createServer().listen(socket);
    await new Promise((r) => listener.once('listening', r));
    expect(await recoveryArmed(socket)).toBe(true);
    await new Promise<void>((r) => listener.close(() => r()));
    // What QEMU leaves once a resume connected: the socket file, nobody listening (a process
    // that listened and was killed leaves just that).
    const stale = path.join(dir, 'stale.sock');
    const child = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`,
    ]);
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await lstat(stale)).isSocket()).toBe(true);
    expect(await recoveryArmed(stale)).toBe(false);
  });
});

describe('armAfresh', () => {
  function pausedQemu() {
    return FakeQmpServer.start({
      handlers: {
        'migrate-recover': (args) => {
          const listener = createServer().listen(String(args['uri']).slice('unix:'.length));
          cleanup.push(() => new Promise((r) => listener.close(() => r())));
          return {};
        },
      },
    });
  }

  it('arms through a new connection while QEMU answers, and lets go of it', async () => {
    const dir = await scratch();
    const server = await pausedQemu();
    cleanup.push(() => server.close());
    const socket = path.join(dir, 'recover.sock');
    await armAfresh(server.socketPath, socket);
    expect(await recoveryArmed(socket)).toBe(true);
    expect(server.commands.at(-1)).toMatchObject({ execute: 'migrate-recover' });
  });

  it("fails within its wait when QEMU's main loop is blocked (no negotiation)", async () => {
    const dir = await scratch();
    const server = await pausedQemu();
    cleanup.push(() => server.close());
    server.blockMainLoop();
    await expect(
      armAfresh(server.socketPath, path.join(dir, 'recover.sock'), { handshakeTimeoutMs: 300 }),
    ).rejects.toThrow(/cannot open the post-copy recovery monitor/);
    expect(server.commands.map((c) => c.execute)).not.toContain('migrate-recover');
    server.unblockMainLoop();
  });
});
