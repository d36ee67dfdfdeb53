// End to end, two hosts (network namespaces, xl over real ssh): a direct post-copy (QEMU to QEMU
// over TCP, TLS-PSK) whose TCP link is cut once the guest runs on B (both ends reset: a network
// failure, the ssh pipe untouched), then `xl migrate --resume --transport direct` over ssh
// completes it through the receiver's own TLS-PSK port with a key fresh for the resume. Slow (a
// boot, post-copy at 4 MiB/s from 2 s on, the rest of the RAM after the resume): `npm run test:slow`.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import {
  cleanupAfterEach,
  createDiskImage,
  createHostPair,
  startSshd,
  track,
  waitForSsh,
} from '../helpers/index.js';
import { expectRamcheckClean } from '../migrate-checks.js';
import { guestVerify } from '../migrate-q-rig.js';
import {
  continuous,
  domainDir,
  guestConfig,
  onJsonLines,
  records,
  until,
  waitForBeatAbove,
  XL,
  xlHost,
} from '../xl-rig.js';

cleanupAfterEach();

/** Dirtying faster than the link (no pre-copy convergence), the RAM checker, the disk writer. */
const WORKLOAD =
  '"console=ttyS0 quiet xlkit.dirty=16 xlkit.dirtymb=32 xlkit.ramcheck=16 xlkit.disk=write xlkit.diskmb=16"';

/** Every TLS key dir left in a state dir's domain dirs. */
function tlsDirs(stateDir: string): string[] {
  const root = path.join(stateDir, 'domains');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((id) =>
    ['nbd-tls', 'migrate-tls'].map((d) => path.join(root, id, d)).filter((d) => existsSync(d)),
  );
}

it('a direct post-copy whose TCP link breaks between two hosts: paused both sides, resumed over ssh with TLS', async () => {
  const pair = await createHostPair();
  const a = xlHost('rh-a-');
  const b = xlHost('rh-b-');
  const sshd = await startSshd(pair.b, { env: { XL_STATE_DIR: b.stateDir }, commands: { xl: XL } });
  await waitForSsh(pair.a, sshd, pair.b.address);
  const disk = await createDiskImage(a.dir, 'rh.raw', 32, 'raw');
  const cfg = await guestConfig(a.dir, 'rh1', { disk: `[ "${disk},raw,xvda,rw" ]`, extra: WORKLOAD });
  // A's QEMU lives in A's namespace: the direct transport connects from there to B's address.
  const created = await pair.a.exec(['node', XL, '--state-dir', a.stateDir, 'create', cfg], {
    reject: false,
  });
  expect(created.exitCode, String(created.stderr)).toBe(0);
  const beat = (await waitForBeatAbove(a, 'rh1', 2)).at(-1)!;
  const [source] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  const pid = source!.qemu!.pid;

  const migrate = (args: string[]) => {
    const [file, ...argv] = pair.a.wrap([
      'node',
      XL,
      '--state-dir',
      a.stateDir,
      'migrate',
      '--json',
      ...args,
    ]);
    const child = execa(file!, argv, { reject: false, stdin: 'ignore', timeout: 300_000 });
    track({
      label: `xl migrate ${args.join(' ')}`,
      run: async () => void child.kill('SIGKILL'),
      runSync: () => void child.kill('SIGKILL'),
    });
    const events: Record<string, unknown>[] = [];
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    return { child, events, stderr: () => stderr };
  };
  const direct = ['--transport', 'direct', '-s', sshd.sshCommand];
  const first = migrate([
    ...direct,
    '--bandwidth',
    '4',
    '--postcopy',
    '--postcopy-after-time',
    '2',
    'rh1',
    pair.b.address,
  ]);
  let ended = false;
  void first.child.then(() => (ended = true));
  // The guest runs on B (taken over at POSTCOPY_GO) with most of its RAM still on A.
  await until(
    'post-copy to start',
    () => {
      if (ended) throw new Error(`xl migrate ended before post-copy: ${first.stderr()}`);
      return records(b.stateDir).some((d) => d.name === 'rh1' && d.status === 'running') ? true : undefined;
    },
    240_000,
  );
  const at = first.events.find((e) => e.event === 'ram-endpoint');
  expect(at).toMatchObject({ transport: 'tcp', host: pair.b.address });
  // The incoming QEMU's migration went plain at POSTCOPY_GO: its key file is gone already.
  expect(tlsDirs(b.stateDir)).toEqual([]);
  // `cont` only marks an incoming QEMU to start: the guest runs on B once its heartbeat shows
  // there (the device state loaded; a cut before that is fatal to the incoming QEMU in 7.2).
  await waitForBeatAbove(b, 'rh1', 0);
  // The link fails at A's end (its socket destroyed: an aborted connection), and B hears
  // nothing more (its packets to that port dropped at A): B's QEMU would wait for minutes.
  const port = String(at!.port);
  await pair.a.exec([
    'iptables',
    '-A',
    'INPUT',
    '-p',
    'tcp',
    '-s',
    pair.b.address,
    '--sport',
    port,
    '-j',
    'DROP',
  ]);
  await pair.a.exec(['ss', '-K', 'dst', pair.b.address, 'dport', '=', port]);

  const cut = await first.child;
  const said = `${first.stderr()}\n${JSON.stringify(first.events.slice(-5))}`;
  expect(cut.exitCode, said).toBe(1);
  expect(first.stderr()).toMatch(/xl: MIGRATION FAILED IN POST-COPY .*kept paused as 'rh1--migratedaway'/);
  // B's receiver armed the recovery and ended; nothing destroyed, the source never resumed.
  await until(
    'the recovery armed on B',
    () => (existsSync(path.join(domainDir(b, 'rh1'), 'recover.sock')) ? true : undefined),
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; xl migrate said: ${first.stderr().slice(-3000)}`);
  });
  expect(isProcessAlive(pid)).toBe(true);
  const [paused] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  expect(paused).toMatchObject({ name: 'rh1--migratedaway' });
  expect(paused!.status).not.toBe('running');
  const [there] = records(b.stateDir);
  expect(there).toMatchObject({ name: 'rh1' });
  expect(isProcessAlive(there!.qemu!.pid)).toBe(true);
  // No key outlives its migration, on either host.
  expect([...tlsDirs(a.stateDir), ...tlsDirs(b.stateDir)]).toEqual([]);

  const started = Date.now();
  const resumed = migrate(['--resume', ...direct, 'rh1', pair.b.address]);
  const r = await resumed.child;
  const resumeMs = Date.now() - started;
  expect(r.exitCode, resumed.stderr()).toBe(0);
  // Across hosts the source QEMU reaches the armed socket through a new TLS-PSK port on B.
  const again = resumed.events.find((e) => e.event === 'ram-endpoint');
  expect(again).toMatchObject({ transport: 'tcp', host: pair.b.address });
  expect(again!.port).not.toBe(at!.port);
  expect(resumed.events.at(-1)).toMatchObject({ result: 'ok', domain: 'rh1' });
  console.log(`resume across hosts (direct, TLS-PSK): ${resumeMs} ms`);
  // The source copy is gone only now; the guest ran on throughout, its RAM and disk intact.
  expect(isProcessAlive(pid)).toBe(false);
  expect(JSON.parse((await a.xl('list', '--json')).stdout)).toEqual([]);
  const [moved] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
  expect(moved).toMatchObject({ name: 'rh1', status: 'running' });
  expect(moved!.qemu!.pid).toBe(there!.qemu!.pid);
  expect([...tlsDirs(a.stateDir), ...tlsDirs(b.stateDir)]).toEqual([]);
  const beats = await waitForBeatAbove(b, 'rh1', beat + 5);
  expect(continuous(beats)).toBe(true);
  await expectRamcheckClean(b, 'rh1');
  expect(await guestVerify(b, 'rh1')).toMatch(/^xlkit-disk-verify ok \d+$/);
}, 900_000);
