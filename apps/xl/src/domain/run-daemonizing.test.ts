import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDaemonizing } from './run-daemonizing.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-daemonize-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const opts = (o: { timeoutMs?: number; onSpawn?: () => void } = {}) => ({
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  logFile: path.join(dir, 'qemu.log'),
  timeoutMs: o.timeoutMs ?? 10_000,
  ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
});

describe('runDaemonizing', () => {
  it('waits for the first process to exit, its stderr appended to a private log', async () => {
    let spawned = false;
    const r = await runDaemonizing(
      'sh',
      ['-c', 'echo started >&2; exit 0'],
      opts({ onSpawn: () => (spawned = true) }),
    );
    expect(r).toEqual({ failed: false });
    expect(spawned).toBe(true);
    expect(await readFile(path.join(dir, 'qemu.log'), 'utf8')).toBe('started\n');
    expect((await stat(path.join(dir, 'qemu.log'))).mode & 0o777).toBe(0o600);
  });

  it('reports an exit status, a missing program and a timeout as failures', async () => {
    expect(await runDaemonizing('sh', ['-c', 'exit 3'], opts())).toMatchObject({ failed: true, exitCode: 3 });
    expect(await runDaemonizing(path.join(dir, 'no-such-qemu'), [], opts())).toMatchObject({
      failed: true,
      notFound: true,
    });
    const slow = await runDaemonizing('sleep', ['10'], opts({ timeoutMs: 100 }));
    expect(slow).toMatchObject({ failed: true, timedOut: true, signal: 'SIGKILL' });
  });
});
