// One cell of the fault matrix, end to end: a guest writing its disk pattern and checking its
// RAM on host A, `xl migrate` to host B through the pipe wrapper, the fault at its point, then
// everything checked from outside xl after the next xl command on each side.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, execaSync, type Result } from 'execa';
import { expect } from 'vitest';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import {
  GUEST_COMMAND,
  outlivingTest,
  ramcheckWorkload,
  repoRoot,
  sendSerialLine,
  tempDir,
  track,
  verifyDiskImage,
} from '../helpers/index.js';
import { expectRamcheckClean } from '../migrate-checks.js';
import { bootWriter, guestVerify } from '../migrate-q-rig.js';
import {
  consoleBeats,
  continuous,
  records,
  startMigrate,
  waitForBeatAbove,
  XL,
  xlHost,
  type XlHost,
} from '../xl-rig.js';
import { inject, readPids, repair, type Pids } from './inject.js';
import { upgradeWithFault } from './upgrade-fault.js';
import type { Cell } from './matrix.js';

const PIPE = path.join(repoRoot, 'test', 'faults', 'pipe-fault.mjs');
const DISK_MB = 32;
const WRITE_MB = 8;
/** Sockets a migration makes in a domain's dir: none may outlive it. */
const MIGRATION_SOCKETS = ['migrate.sock', 'nbd.sock', 'migrate-control.sock'];

export interface Outcome {
  exit: string;
  line: string;
  where: string;
  /** The sender's whole stderr (the receiver's steps relayed in it). */
  stderr: string;
}

/**
 * The guest the cells share: booted once, and carried on by the next cell from wherever the
 * last one left it running intact (A, or B after a completed migration), its disk writer
 * restarted. A cell that fails or loses the guest boots a new one for the next.
 */
export interface Guest {
  host: XlHost;
  name: string;
  pid: number;
  disk: string;
}

const GUEST_NAME = 'flt';

async function bootPoolGuest(): Promise<Guest> {
  const host = xlHost('fa-');
  const src = await bootWriter(
    host,
    GUEST_NAME,
    [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }],
    WRITE_MB,
    undefined,
    undefined,
    `${ramcheckWorkload(8)} xlkit.dirty=16 xlkit.dirtymb=32`,
  );
  return { host, name: GUEST_NAME, pid: src.pid, disk: src.disks[0]! };
}

/** Kills the guest's QEMU (a failed cell's guest is not trusted further). */
export function dropGuest(g: Guest | undefined): void {
  if (g !== undefined && isProcessAlive(g.pid)) process.kill(g.pid, 'SIGKILL');
}

/** A tmpfs of `sizeMiB` at `dir` (0700, as a state dir must be), unmounted when the test ends. */
async function tmpfsAt(dir: string, sizeMiB: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'xlkit-faults', dir]);
  const undo = () => {
    // The read-only bind mount of an unwritable cell may sit on top.
    for (let i = 0; i < 3; i++) execaSync('umount', ['-l', dir], { reject: false });
  };
  track({ label: `tmpfs ${dir}`, run: async () => undo(), runSync: undo });
  return dir;
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const alive = (pid: number) => isProcessAlive(pid);

async function views(h: XlHost): Promise<{ views: DomainView[]; stderr: string }> {
  const r = await h.xl('list', '--json');
  expect(r.exitCode, r.stderr).toBe(0);
  return { views: JSON.parse(r.stdout) as DomainView[], stderr: r.stderr };
}

/** Nothing a migration made is left on `h` beyond its live domains. */
function expectNoLeftovers(h: XlHost, live: DomainView[], targetDir?: string, postcopy = false): void {
  const recs = records(h.stateDir);
  expect(recs.map((r) => r.name).sort()).toEqual(live.map((v) => v.name).sort());
  expect(recs.filter((r) => r.migration !== undefined)).toEqual([]);
  const root = path.join(h.stateDir, 'domains');
  expect((existsSync(root) ? readdirSync(root) : []).sort()).toEqual(recs.map((r) => String(r.id)).sort());
  // A post-copy kept by the reaper, or claimed by a receiver killed in it, keeps its QEMU's
  // migration socket (it may be resumed).
  for (const r of recs.filter((x) => x.postcopy !== true && !postcopy)) {
    const inDir = readdirSync(path.join(root, String(r.id)));
    expect(inDir.filter((f) => MIGRATION_SOCKETS.includes(f))).toEqual([]);
  }
  const qemus = new Set(recs.flatMap((r) => (r.qemu ? [r.qemu.pid] : [])));
  expect(h.watcher.liveQemus().filter((p) => !qemus.has(p))).toEqual([]);
  if (targetDir !== undefined) {
    const kept = new Set(recs.flatMap((r) => r.config.disks.map((d) => d.target)));
    const left = readdirSync(targetDir)
      .filter((f) => !f.startsWith('fill'))
      .map((f) => path.join(targetDir, f));
    expect(left.filter((f) => !kept.has(f))).toEqual([]);
  }
}

/**
 * Past POSTCOPY_GO nothing on B is destroyed: a live copy is kept, claimed by the receiver
 * (named NAME, no owner) unless the receiver itself was killed (then the reaper keeps
 * NAME--incoming); the receiver said so, when its words could reach the sender's stderr.
 */
function expectPostcopyKept(
  cell: Cell,
  b: XlHost,
  name: string,
  stderr: string,
  senderKilled: boolean,
): void {
  const live = records(b.stateDir).filter((r) => r.qemu !== undefined && alive(r.qemu.pid));
  expect(live.length).toBeLessThanOrEqual(1);
  if (cell.fault === 'receiver QEMU SIGKILL') expect(live).toEqual([]);
  // Killed before or after it claimed the domain.
  else if (cell.fault === 'receiver SIGKILL')
    expect([[name], [`${name}--incoming`]]).toContainEqual(live.map((r) => r.name));
  else {
    // Gone only when its QEMU had not loaded the device state yet (a cut pipe lost the bytes
    // held in the wrapper): it then failed the incoming migration and exited.
    const claimed = live.map((r) => [r.name, r.ownerPid, r.postcopy]);
    // A read-only state dir: the take-over's claim stands (its post-copy mark could not be added).
    expect([[], [[name, undefined, true]], [[name, undefined, undefined]]]).toContainEqual(claimed);
    if (!senderKilled)
      expect(stderr).toMatch(
        claimed.length > 0
          ? /migration receiver: xl: post-copy broke \(phase 3\): .*'xl (migrate --resume|destroy)/
          : /migration receiver: xl: post-copy broke \(phase 3\): .*its QEMU here is gone/,
      );
  }
}

/** Runs `cell` with `pool.guest` (booting one when there is none); leaves the guest to carry on there. */
/** Where a cell's details go as they happen (XLKIT_FAULTS_LOG), if anywhere. */
let trace: ((text: string) => void) | undefined;
export function traceTo(fn: (text: string) => void): void {
  trace = fn;
}

export async function runCell(cell: Cell, pool: { guest?: Guest }): Promise<Outcome> {
  const guest = (pool.guest ??= await outlivingTest(bootPoolGuest));
  const b = await outlivingTest(async () => xlHost('fb-'));
  try {
    return await runCellOn(cell, pool, guest, b);
  } finally {
    // The hosts outlive the test for the guest's sake: every other QEMU they ever had goes now.
    for (const h of [guest.host, b])
      for (const pid of h.watcher.liveQemus()) if (pid !== pool.guest?.pid) process.kill(pid, 'SIGKILL');
  }
}

async function runCellOn(cell: Cell, pool: { guest?: Guest }, guest: Guest, b: XlHost): Promise<Outcome> {
  const { name } = guest;
  const a = guest.host;
  const q = cell.phase === 'phase 2';
  const enospc = cell.fault === 'ENOSPC on destination';
  const destFs: string[] = [];
  if (enospc) destFs.push(await tmpfsAt(b.stateDir, 8));
  if (cell.fault === 'state dir unwritable') destFs.push(b.stateDir);
  const targetDir = path.join(b.dir, 'disks');
  if (q && enospc) destFs.push(await tmpfsAt(targetDir, DISK_MB + 80));
  else await mkdir(targetDir);
  if (cell.fault === 'state dir unwritable') await mkdir(b.stateDir, { recursive: true, mode: 0o700 });

  const src = { pid: guest.pid, beat: (await consoleBeats(a, name)).at(-1) ?? 0, disks: [guest.disk] };
  const r = cell.upgrade
    ? await upgradeWithFault(cell, a, name)
    : await migrateWithFault(cell, { a, b, name, destFs });

  const lines = String(r.stderr)
    .split('\n')
    .filter((l) => l.startsWith('xl: ') && !l.startsWith('xl: warning:'));
  const exit = r.signal ? String(r.signal) : String(r.exitCode);
  const killed = cell.fault === 'sender SIGKILL' || cell.fault === 'upgrade SIGKILL';
  if (killed) {
    expect(r.signal).toBe('SIGKILL');
    expect(lines).toEqual([]);
  } else if (r.exitCode === 0) {
    expect(cell.mayComplete, `completed: ${String(r.stderr)}`).toBe(true);
    expect(lines).toEqual([]);
  } else {
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(lines, String(r.stderr)).toHaveLength(1);
    if (cell.message) expect(lines[0]).toMatch(cell.message);
  }

  // The next xl command on each side: reaps, recovers, and then nothing is left but live domains.
  const onA = await views(a);
  const onB = await views(b);
  let note = [onA.stderr, onB.stderr]
    .join('')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^xl: warning: /, ''));
  if (cell.nextOnB) expect(onB.stderr).toMatch(cell.nextOnB);
  if (killed)
    expect(onA.stderr).toMatch(
      /the xl (migrate|upgrade) of it .*went away (before|after) the point of no return/,
    );
  expectNoLeftovers(a, onA.views);
  // A post-copy kept for --resume keeps its QEMU's socket; so does one that completed while the
  // state dir was read-only (the spent socket could not be unlinked then; it goes with the domain).
  const socketsKept =
    cell.phase === 'post-copy' && (r.exitCode !== 0 || cell.fault === 'state dir unwritable');
  expectNoLeftovers(b, onB.views, targetDir, socketsKept);

  const where = cell.where ?? 'source';
  // A post-copy that broke: B's copy waits (postcopy-paused) for pages that will not come.
  const stuck = where === 'post-copy' && r.exitCode !== 0;
  if (stuck) expectPostcopyKept(cell, b, name, String(r.stderr), r.signal !== undefined);
  const running = [
    ...onA.views.filter((v) => v.status === 'running').map((v) => ({ host: a, side: 'A', v })),
    ...(stuck ? [] : onB.views).filter((v) => v.status === 'running').map((v) => ({ host: b, side: 'B', v })),
  ];
  expect(running.length).toBeLessThanOrEqual(1);
  if (where === 'source') {
    expect(running.map((x) => [x.side, x.v.name, x.v.qemu?.pid])).toEqual([['A', name, src.pid]]);
    expect(onB.views).toEqual([]);
    expect(records(a.stateDir).map((r) => r.name)).toEqual([name]);
  } else if (where === 'none') {
    expect(running).toEqual([]);
    expect([...onA.views, ...onB.views]).toEqual([]);
    expect(await verifyDiskImage(src.disks[0]!, WRITE_MB)).toMatchObject({ ok: true });
  } else if (r.exitCode !== 0) {
    // Past GO or in post-copy: the source copy is never resumed (unless the receiver released it).
    const left = onA.views[0];
    if (left !== undefined && left.status === 'running') {
      expect(left.name).toBe(name);
      expect(onB.views).toEqual([]);
    } else if (left !== undefined) expect(left.name).toBe(`${name}--migratedaway`);
    expect(onB.views.length).toBeLessThanOrEqual(1);
  }
  const copy = running[0];
  let next: Guest | undefined;
  if (copy !== undefined) {
    expect(copy.v.name).toBe(name);
    const beats = await waitForBeatAbove(copy.host, name, src.beat + 2);
    expect(continuous(beats.filter((x) => x > src.beat))).toBe(true);
    expect(await guestVerify(copy.host, name)).toMatch(/^xlkit-disk-verify ok \d+$/);
    await expectRamcheckClean(copy.host, name);
    // Carried on only as the one domain of its host, nothing else kept anywhere.
    const others = [...onA.views, ...onB.views].filter((v) => v !== copy.v);
    // Not from a file system the cell mounted (it goes with the cell).
    if (others.length === 0 && (copy.side === 'A' || destFs.length === 0)) {
      await sendSerialLine(path.join(copy.v.paths.dir, 'console.sock'), GUEST_COMMAND.diskWrite);
      next = { ...guest, host: copy.host, pid: copy.v.qemu!.pid };
    }
  }
  const placed = copy
    ? `runs on ${copy.side}`
    : stuck && onB.views.length > 0
      ? `B keeps ${onB.views.map((v) => v.name).join(', ')} (post-copy paused)`
      : 'runs nowhere';
  const kept = [...onA.views, ...onB.views]
    .filter((v) => v.status !== 'running')
    .map((v) => `${v.name} ${v.status}`);
  note = note.map((l) => l.slice(0, 90));
  if (next === undefined) dropGuest(guest);
  pool.guest = next;
  pool.guest = next;
  const outcome = {
    exit,
    line: (lines[0] ?? note[0] ?? (r.exitCode === 0 ? 'completed' : '')).replace(/^xl: /, '').slice(0, 110),
    where: [placed, ...kept.map((k) => `kept ${k}`)].join('; '),
    stderr: String(r.stderr),
  };
  return outcome;
}

/** `xl migrate` A → B through the pipe wrapper, the cell's fault at its point; the sender's result once the receiver ended too. */
async function migrateWithFault(
  cell: Cell,
  { a, b, name, destFs }: { a: XlHost; b: XlHost; name: string; destFs: string[] },
): Promise<Result> {
  const postcopy = cell.phase === 'post-copy';
  const q = cell.phase === 'phase 2';
  const targetDir = path.join(b.dir, 'disks');
  const ctl = tempDir('fc-');
  const p = cell.point;
  const action =
    p?.corruptByte !== undefined ? `corrupt:${p.corruptByte}` : p?.before ? 'hold-before' : 'hold';
  const wrapper = [
    'node',
    PIPE,
    '--xl',
    XL,
    '--ctl',
    ctl,
    // The receiver's steps, relayed on the sender's stderr: a failed cell shows them.
    '--debug',
    '1',
    ...(p ? ['--at', p.at, '--do', action, ...(p.after ? ['--after', p.after] : [])] : []),
  ].join(' ');
  const mode = q
    ? ['-q', '--target-dir', targetDir]
    : postcopy
      ? ['--bandwidth', '32', '--postcopy', '--postcopy-after', '1']
      : [];
  const env = cell.fault === 'NBD dropped' ? { XLKIT_FAULT: 'nbd-drop:1048576' } : {};
  const sender = startMigrate(a, ['--json', ...mode, '-s', wrapper, name, b.stateDir], { env });
  let pids: Pids | undefined;
  const stopPipe = () => {
    for (const pid of [pids?.wrapper, pids?.receiver]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  };
  track({ label: `pipe of ${name}`, run: async () => stopPipe(), runSync: stopPipe });
  let exited = false;
  void sender.then(() => (exited = true));
  const started = await waitFor(
    'the pipe wrapper',
    () => {
      try {
        return readPids(ctl);
      } catch {
        // Not written yet, or half.
        return exited ? null : undefined;
      }
    },
    60_000,
  );
  if (started === null)
    throw new Error(`xl migrate ended before its pipe started: ${String((await sender).stderr)}`);
  pids = started;

  if (p && p.corruptByte === undefined) {
    const held = path.join(ctl, 'held');
    await waitFor('the fault point', () => (existsSync(held) || exited ? true : undefined), 120_000);
    if (!existsSync(held)) throw new Error(`the migration ended before reaching ${p.at}`);
    // Phase 1: the receiver has its QEMU up (it needs no more bytes for that).
    if (cell.phase === 'phase 1' && !p.before) await b.watcher.waitFor((d) => d.qemu !== undefined);
    if (await inject(cell.fault, { a, b, sender, pids, destFs })) process.kill(pids.wrapper, 'SIGCONT');
  }
  const r = await sender;
  trace?.(`sender: exit ${r.exitCode ?? r.signal}\n${String(r.stderr)}`);
  // The receiver ends on its own once its pipe closes (bounded).
  await waitFor(
    'the receiver to exit',
    () => (alive(pids!.receiver) || alive(pids!.wrapper) ? undefined : true),
    90_000,
  ).catch((err: Error) => {
    const left = [pids!.receiver, pids!.wrapper].filter(alive).map((pid) => {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      return `${pid} ${cmd.slice(0, 120)}`;
    });
    throw new Error(`${err.message}: still running: ${left.join('; ')}`);
  });
  await repair(cell.fault, destFs);
  return r;
}
