// End to end: the pipe of a post-copy migration is cut (its process killed, as a dropped ssh
// would be), then that of a first `xl migrate --resume` (relayed), and a second one completes
// it QEMU to QEMU (real QEMU, TCG, same host). Slow
// (a boot, a post-copy cut at 8 MiB/s, then the rest of the RAM at that rate): `npm run test:slow`.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import { cleanupAfterEach, createDiskImage, tempDir, track } from '../helpers/index.js';
import { repoRoot } from '../helpers/paths.js';
import { expectRamcheckClean } from '../migrate-checks.js';
import { guestVerify } from '../migrate-q-rig.js';
import {
  continuous,
  domainDir,
  guestConfig,
  records,
  sameHostReceiver,
  startMigrate,
  until,
  waitForBeatAbove,
  XL,
  xlHost,
} from '../xl-rig.js';
import { readPids } from '../faults/inject.js';

cleanupAfterEach();

const PIPE = path.join(repoRoot, 'test', 'faults', 'pipe-fault.mjs');
/** Dirtying faster than the link (no pre-copy convergence), the RAM checker, the disk writer. */
const WORKLOAD =
  '"console=ttyS0 quiet xlkit.dirty=16 xlkit.dirtymb=32 xlkit.ramcheck=16 xlkit.disk=write xlkit.diskmb=16"';

/** Whether a client is connected to the unix socket at `socketPath` (an accepted socket shows its path). */
function connectedTo(socketPath: string): boolean {
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .some((l) => l.endsWith(` ${socketPath}`) && l.trim().split(/\s+/)[5] === '03');
}

it('a pipe cut in post-copy pauses both sides, a cut resume too; xl migrate --resume completes it', async () => {
  const a = xlHost('rs-a-');
  const b = xlHost('rs-b-');
  const disk = await createDiskImage(a.dir, 'rs.raw', 32, 'raw');
  const cfg = await guestConfig(a.dir, 'rs1', { disk: `[ "${disk},raw,xvda,rw" ]`, extra: WORKLOAD });
  const created = await a.xl('create', cfg);
  expect(created.exitCode, created.stderr).toBe(0);
  const beat = (await waitForBeatAbove(a, 'rs1', 2)).at(-1)!;
  const [source] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  const pid = source!.qemu!.pid;

  const ctl = tempDir('rs-ctl-');
  const wrapper = ['node', PIPE, '--xl', XL, '--ctl', ctl].join(' ');
  const args = ['--bandwidth', '8', '--postcopy', '--postcopy-after', '1'];
  const child = startMigrate(a, ['--json', ...args, '-s', wrapper, 'rs1', b.stateDir]);
  const pids = await until(
    'the pipe',
    () => (existsSync(path.join(ctl, 'pids.json')) ? readPids(ctl) : undefined),
    60_000,
  );
  const stop = () => {
    for (const p of [pids.wrapper, pids.receiver]) if (isProcessAlive(p)) process.kill(p, 'SIGKILL');
  };
  track({ label: 'the pipe of rs1', run: async () => stop(), runSync: stop });
  // The guest runs on B (taken over at POSTCOPY_GO) with most of its RAM still on A: cut.
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let ended = false;
  void child.then(() => (ended = true));
  await until(
    'post-copy to start',
    () => {
      if (ended) throw new Error(`xl migrate ended before post-copy: ${stderr}`);
      return records(b.stateDir).some((d) => d.name === 'rs1' && d.status === 'running') ? true : undefined;
    },
    240_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; xl migrate said: ${stderr.slice(-2000)}`);
  });
  // `cont` only marks an incoming QEMU to start: the guest runs on B once its heartbeat shows
  // there (its device state loaded; a cut before that fails the incoming QEMU's load in 7.2).
  await waitForBeatAbove(b, 'rs1', 0);
  process.kill(pids.wrapper, 'SIGKILL');

  const cut = await child;
  expect(cut.exitCode).toBe(1);
  expect(String(cut.stderr)).toMatch(
    /xl: MIGRATION FAILED IN POST-COPY .*kept paused as 'rs1--migratedaway'/,
  );
  // The receiver arms the recovery (its QEMU listens in the domain's dir) and ends.
  await until('the receiver to end', () => (isProcessAlive(pids.receiver) ? undefined : true), 30_000);
  expect(existsSync(path.join(domainDir(b, 'rs1'), 'recover.sock'))).toBe(true);
  // Nothing destroyed, the source never resumed.
  expect(isProcessAlive(pid)).toBe(true);
  const [paused] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  expect(paused).toMatchObject({ name: 'rs1--migratedaway' });
  expect(paused!.status).not.toBe('running');
  const [there] = records(b.stateDir);
  expect(there).toMatchObject({ name: 'rs1' });
  expect(isProcessAlive(there!.qemu!.pid)).toBe(true);

  // A resume whose pipe is cut too, once its receiver holds the recovery monitor again: the
  // same again, still nothing destroyed, the recovery armed anew.
  const ctl2 = tempDir('rs-ctl2-');
  const again = startMigrate(a, [
    '--json',
    '--resume',
    '-s',
    ['node', PIPE, '--xl', XL, '--ctl', ctl2].join(' '),
    'rs1',
    b.stateDir,
  ]);
  const pids2 = await until(
    'the second pipe',
    () => (existsSync(path.join(ctl2, 'pids.json')) ? readPids(ctl2) : undefined),
    60_000,
  );
  const monitor = path.join(domainDir(b, 'rs1'), 'recovery-qmp.sock');
  await until('the recovery monitor held again', () => (connectedTo(monitor) ? true : undefined), 60_000);
  process.kill(pids2.wrapper, 'SIGKILL');
  const cut2 = await again;
  expect(cut2.exitCode).toBe(1);
  expect(String(cut2.stderr)).toMatch(/xl: MIGRATION FAILED IN POST-COPY/);
  await until('the receiver to end', () => (isProcessAlive(pids2.receiver) ? undefined : true), 30_000);
  expect(existsSync(path.join(domainDir(b, 'rs1'), 'recover.sock'))).toBe(true);
  expect(isProcessAlive(pid)).toBe(true);
  expect(isProcessAlive(there!.qemu!.pid)).toBe(true);

  const events: Record<string, unknown>[] = [];
  // This one QEMU to QEMU: the source QEMU connects to the armed socket itself.
  const direct = ['--transport', 'direct'];
  const resumed = startMigrate(a, ['--json', '--resume', ...direct, '-s', '', 'rs1', sameHostReceiver(b)]);
  resumed.stdout!.on('data', (c: Buffer) => {
    for (const line of c.toString().split('\n'))
      if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
  });
  const r = await resumed;
  expect(r.exitCode, String(r.stderr)).toBe(0);
  expect(events.find((e) => e.event === 'ram-endpoint')).toMatchObject({ transport: 'unix' });
  expect(events.at(-1)).toMatchObject({ result: 'ok', domain: 'rs1' });
  // The source copy is gone only now; the guest ran on throughout, its RAM and disk intact.
  expect(isProcessAlive(pid)).toBe(false);
  expect(JSON.parse((await a.xl('list', '--json')).stdout)).toEqual([]);
  const [moved] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
  expect(moved).toMatchObject({ name: 'rs1', status: 'running' });
  expect(moved!.qemu!.pid).toBe(there!.qemu!.pid);
  const beats = await waitForBeatAbove(b, 'rs1', beat + 5);
  expect(continuous(beats)).toBe(true);
  await expectRamcheckClean(b, 'rs1');
  expect(await guestVerify(b, 'rs1')).toMatch(/^xlkit-disk-verify ok \d+$/);
}, 600_000);
