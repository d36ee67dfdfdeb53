// Pieces of the `xl migrate -q` suites: hosts whose guests write the disk pattern, the
// guest's own verify over its serial console, and the source's block-layer state over QMP.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient, queryBlockJobs, queryNamedBlockNodes } from '@xlkit/qmp';
import type { DomainView } from '@xlkit/xl';
import os from 'node:os';
import { rmSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execa, execaSync } from 'execa';
import { createDiskImage, GUEST_COMMAND, sendSerialLine, track, type NetnsHost } from './helpers/index.js';
import {
  consoleBeats,
  diskDirectIo,
  domainDir,
  guestConfig,
  waitForBeatAbove,
  XL,
  xlHost,
  type XlHost,
} from './xl-rig.js';

export type QHost = XlHost;
export const qHost = xlHost;

/** Source host A and receiver host B (fresh state dirs), with B's target directory made. */
export async function qPair(prefix: string): Promise<{ a: QHost; b: QHost; targetDir: string }> {
  const a = qHost(`${prefix}-a-`);
  const b = qHost(`${prefix}-b-`);
  const targetDir = path.join(b.dir, 'disks');
  await mkdir(targetDir);
  return { a, b, targetDir };
}

export interface DiskDef {
  vdev: string;
  format: 'raw' | 'qcow2';
  sizeMiB: number;
  /** Marked shared=yes: storage both hosts see, never mirrored. */
  shared?: boolean;
}

export interface BootedWriter {
  pid: number;
  beat: number;
  /** Image paths, in the order given. */
  disks: string[];
}

/** Boots a guest on `host` whose first disk gets the continuous pattern writer. */
export async function bootWriter(
  host: XlHost,
  name: string,
  disks: DiskDef[],
  writeMiB: number,
  prepare?: (paths: string[]) => Promise<void>,
  netns?: NetnsHost,
  /** More guest workloads on the kernel command line (e.g. the RAM dirtier). */
  kernelExtra = '',
): Promise<BootedWriter> {
  const paths: string[] = [];
  for (const d of disks)
    paths.push(await createDiskImage(host.dir, `${name}-${d.vdev}.${d.format}`, d.sizeMiB, d.format));
  await prepare?.(paths);
  const diskList = disks
    .map((d, i) =>
      d.shared
        ? `"format=${d.format}, vdev=${d.vdev}, access=rw, shared=yes, target=${paths[i]}"`
        : `"${paths[i]},${d.format},${d.vdev},rw"`,
    )
    .join(', ');
  const cfg = await guestConfig(host.dir, name, {
    extra: `"console=ttyS0 quiet xlkit.disk=write xlkit.diskmb=${writeMiB}${kernelExtra ? ` ${kernelExtra}` : ''}"`,
    disk: `[ ${diskList} ]`,
  });
  const created = netns
    ? await netns.exec(['node', XL, '--state-dir', host.stateDir, 'create', cfg], { reject: false })
    : await host.xl('create', cfg);
  if (created.exitCode !== 0) throw new Error(`xl create: ${String(created.stderr)}`);
  const beats = await waitForBeatAbove(host, name, 2);
  await waitForConsole(host, name, /^xlkit-disk-write start /m);
  const [view] = JSON.parse((await host.xl('list', '--json', name)).stdout) as DomainView[];
  return { pid: view!.qemu!.pid, beat: beats.at(-1)!, disks: paths };
}

export async function consoleText(host: XlHost, name: string): Promise<string> {
  return (await host.xl('console', name)).stdout;
}

export async function waitForConsole(
  host: XlHost,
  name: string,
  re: RegExp,
  timeoutMs = 90_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(await consoleText(host, name));
    if (m) return m[0];
    if (Date.now() > deadline) throw new Error(`${name}: no console line matching ${re}`);
    await sleep(300);
  }
}

/** Asks the guest to stop writing and verify its disk; returns its verify line. */
export async function guestVerify(host: XlHost, name: string): Promise<string> {
  const before = (await consoleText(host, name))
    .split('\n')
    .filter((l) => l.startsWith('xlkit-disk-verify')).length;
  await sendSerialLine(path.join(domainDir(host, name), 'console.sock'), GUEST_COMMAND.diskVerify);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const lines = (await consoleText(host, name))
      .split('\n')
      .filter((l) => l.startsWith('xlkit-disk-verify'));
    if (lines.length > before) return lines.at(-1)!.trim();
    if (Date.now() > deadline) throw new Error(`${name}: the guest printed no verify line`);
    await sleep(500);
  }
}

/** Block jobs, and block nodes beyond the domain's own disks (NBD targets left behind). */
export async function sourceBlockState(
  host: XlHost,
  name: string,
): Promise<{ jobs: string[]; extraNodes: string[] }> {
  const qmp = await QmpClient.connect(path.join(domainDir(host, name), 'qmp.sock'));
  try {
    const jobs = (await queryBlockJobs(qmp)).map((j) => j.device);
    const nodes = (await queryNamedBlockNodes(qmp, { flat: true }))
      .map((n) => String(n['node-name']))
      .filter((n) => !/^disk-/.test(n) && !n.startsWith('#'));
    return { jobs, extraNodes: nodes };
  } finally {
    await qmp.close();
  }
}

export { consoleBeats, diskDirectIo };

/** A tmpfs of `sizeMiB` mounted at `dir` for this test, unmounted when it ends. */
export async function smallTmpfs(dir: string, sizeMiB: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  // Mode 0700: a receiver refuses a target root others may write to.
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'xlkit-test', dir]);
  const undo = () => {
    execaSync('umount', ['-l', dir], { reject: false });
  };
  track({
    label: `tmpfs ${dir}`,
    run: async () => void (await execa('umount', ['-l', dir], { reject: false })),
    runSync: undo,
  });
  return dir;
}

/** A qemu-io run as uid/gid 65534 (nobody): what any other user on that host can do. */
export interface NbdProbe {
  ok: boolean;
  output: string;
}

/**
 * Tries the receiver's NBD export at ADDR:PORT as nobody, from inside `host`'s namespace:
 * `key` undefined connects without TLS; otherwise with TLS-PSK as xlkit's username and that
 * key (hex), from a key dir nobody owns. `command` is qemu-io's (-c).
 */
export async function probeNbdAsNobody(
  host: NetnsHost,
  at: { address: string; port: number; exportName: string },
  command: string,
  key?: string,
): Promise<NbdProbe> {
  const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  const readOnly = command.startsWith('read') ? ['-r'] : [];
  let args: string[];
  if (key === undefined) {
    args = ['qemu-io', ...readOnly, '-f', 'raw', `nbd://${at.address}:${at.port}/${at.exportName}`];
  } else {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'xlkit-psk-probe-'));
    track({
      label: `psk probe dir ${dir}`,
      run: () => rm(dir, { recursive: true, force: true }),
      runSync: () => rmSync(dir, { recursive: true, force: true }),
    });
    await writeFile(path.join(dir, 'keys.psk'), `xlkit:${key}\n`, { mode: 0o600 });
    await chown(dir, 65534, 65534);
    await chown(path.join(dir, 'keys.psk'), 65534, 65534);
    args = [
      'qemu-io',
      ...readOnly,
      '--object',
      `tls-creds-psk,id=probe,endpoint=client,dir=${dir},username=xlkit`,
      '--image-opts',
      `driver=nbd,server.type=inet,server.host=${at.address},server.port=${at.port},export=${at.exportName},tls-creds=probe`,
    ];
  }
  const r = await host.exec([...nobody, ...args, '-c', command], { reject: false, timeout: 30_000 });
  // qemu-io reports a failed command on stdout and may still exit 0: success is its own report.
  const output = `${String(r.stdout)}${String(r.stderr)}`;
  return { ok: r.exitCode === 0 && /^(wrote|read) \d+\/\d+ bytes/m.test(output), output };
}
