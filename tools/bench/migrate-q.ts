/**
 * `npm run bench -- migrate-q`: a TCG guest with 512 MiB of RAM and a 2 GiB raw disk holding
 * 1 GiB of data, migrated on this host with its disk: `xl migrate -q` over the tunnel (disk
 * traffic multiplexed into the migration pipe) and direct (QEMU's NBD over TCP), and in the
 * same run the baseline: the same QMP sequence driven directly, QEMU to QEMU (NBD and the
 * migration stream each on a unix socket, no xl in the data path).
 *
 * Timed on every side: mirror = blockdev-add + blockdev-mirror until every job is READY;
 * RAM = migrate until completed, including the mirror finish at pre-switchover; total =
 * receiver QEMU start to the destination resumed (xl's figure from its --json summary, so
 * node's start-up is not counted, nor its `cleanup` phase after the receiver reported the
 * guest running, as the baseline's teardown is not); downtime = QEMU's (the goal's figure);
 * paused = the guest's pause, from the source's vCPU stop until the destination runs it.
 * Goals: tunnel total <= 1.25x baseline, direct <= 1.10x (each side's best total), downtime
 * <= baseline + 20 ms (medians: QEMU's downtime figure jumps from run to run, so one run's
 * says little).
 *
 * CPU: each run also reports the CPU seconds of its xl processes (sender and receiver together,
 * as this process's reaped children) and of its destination QEMU. The QEMUs keep both cores of
 * this machine busy, so what the relay costs in CPU shows up in the totals.
 *
 * Fairness: XLKIT_BENCH_REPS rounds (default 2) of baseline, tunnel, direct, alternating; each
 * side's best total is compared and every run listed. Each run writes 2 GiB (its source disk's
 * data, then the mirror's target) through the page cache, so before each timed migration the
 * host's dirty pages are flushed (`sync`, untimed): no run pays for an earlier run's writeback.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  QmpClient,
  blockExportAdd,
  blockJobCancel,
  blockdevAdd,
  blockdevDel,
  blockdevMirror,
  cont,
  eventTimeMs,
  finalMigrationFigures,
  followMigration,
  jobDismiss,
  migrate,
  migrateContinue,
  migrateIncoming,
  migrateSetCapabilities,
  migrateSetParameters,
  nbdServerStart,
  nbdServerStop,
  queryBlockJobs,
  unixSocketAddressLegacy,
  waitForMirrorReady,
} from '@xlkit/qmp';
import {
  destroyDomain,
  openStore,
  readProcStat,
  startDomain,
  type DomainConfig,
  type DomainStore,
} from '@xlkit/xl';
import { ROOT, benchGuestConfig, XL, run, xl } from './xl-cli.js';
import { median } from './median.js';
import { writeMigrationChart } from './bench-chart.js';

const DISK_GIB = 2;
const DATA_MIB = Number(process.env.XLKIT_BENCH_DATA_MIB ?? 1024);
const MEMORY_MIB = 512;
const REPS = Math.max(1, Number(process.env.XLKIT_BENCH_REPS ?? 2));

/** CPU seconds of a live process (NaN when it is gone). */
const cpuOf = (pid: number | undefined): number =>
  pid === undefined ? NaN : (readProcStat(pid)?.cpuSeconds ?? NaN);
/** CPU seconds of every child this process reaped (an `xl migrate` and the receiver it started; not the QEMUs, which daemonize away). */
const reapedCpu = (): number => readProcStat(process.pid)?.reapedChildrenCpuSeconds ?? NaN;

interface Figures {
  mirror: number;
  ram: number;
  total: number;
  /** QEMU's: the source's vCPU stop until it has sent everything. */
  downtimeMs: number;
  /** The guest's: that stop until the destination runs it. */
  pausedMs: number;
  /** CPU seconds of the xl processes (sender and receiver together; 0 for the baseline). */
  xlCpu: number;
  /** CPU seconds of the destination QEMU over its life, read just after the guest resumed there. */
  destQemuCpu: number;
}

function shellWord(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A source domain with a 2 GiB disk of which DATA_MIB hold data, booted and beating. */
async function bootSource(work: string, stateDir: string, name: string): Promise<string> {
  const disk = path.join(work, `${name}.raw`);
  await execa('qemu-img', ['create', '-q', '-f', 'raw', disk, `${DISK_GIB}G`]);
  await execa('qemu-io', ['-f', 'raw', '-c', `write -P 0x5b 0 ${DATA_MIB}M`, disk]);
  const cfg = path.join(work, `${name}.cfg`);
  await writeFile(
    cfg,
    benchGuestConfig({ name, memoryMiB: MEMORY_MIB, more: [`disk = [ "${disk},raw,xvda,rw" ]`] }),
  );
  await xl(stateDir, 'create', cfg);
  const deadline = Date.now() + 90_000;
  while (!/xlkit-heartbeat 3$/m.test(await xl(stateDir, 'console', name))) {
    if (Date.now() > deadline) throw new Error(`${name} did not boot`);
    await sleep(300);
  }
  return disk;
}

/**
 * Each run's 2 GiB source disk and its mirror target go as soon as the run is over, so every
 * run starts from the same page cache: runs that left their files behind once made every later
 * run slower than the first (the first baseline of a bench mirrored in 1.36 s against 2.6-3.2 s
 * for every other run). Each run still pays for its own page cache: this VM's kernel hands
 * every free 2 MiB block back to the host (free page reporting), and a page it then hands out
 * costs the host a fault, 13-20 us, on every side alike.
 */
function dropRunFiles(disk: string, targets: string): void {
  rmSync(disk, { force: true });
  rmSync(targets, { recursive: true, force: true });
}

/**
 * xl's two hosts: one state directory each for the whole bench, as a host has one. The
 * receiving host's cache of its QEMU's capabilities (`-machine help` and `--version`, 50-70 ms,
 * asked once per QEMU build) is then warm after the first run, as on any host that has taken a
 * domain before.
 */
const HOST_A = 'host-a';
const HOST_B = 'host-b';

/** 'plain' = `xl migrate` without -q (disk shared, no mirror): the RAM path alone, for reference. */
async function benchXl(
  work: string,
  transport: 'tunnel' | 'direct' | 'plain',
  round: number,
): Promise<Figures> {
  const a = path.join(work, HOST_A);
  const b = path.join(work, HOST_B);
  const targets = path.join(work, `${transport}${round}-targets`);
  mkdirSync(targets);
  const disk = await bootSource(work, a, `q${transport}`);
  await execa('sync');
  const receiver = ['node', XL, '--state-dir', b, 'migrate-receive'].map(shellWord).join(' ');
  const q = transport === 'plain' ? [] : ['-q', '--transport', transport, '--target-dir', targets];
  try {
    const cpu0 = reapedCpu();
    const out = await xl(a, 'migrate', '--json', ...q, '-s', '', `q${transport}`, receiver);
    const xlCpu = reapedCpu() - cpu0;
    const [dest] = await (await openStore(b)).list();
    const destQemuCpu = cpuOf(dest?.qemu?.pid);
    await xl(b, 'destroy', `q${transport}`);
    const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
      phases: Record<string, number>;
      seconds: number;
      downtimeMs: number;
      pausedMs: number;
    };
    const p = summary.phases;
    return {
      mirror: p.mirror ?? 0,
      ram: p.ram ?? NaN,
      total: summary.seconds - (p.handshake ?? 0) - (p.cleanup ?? 0),
      downtimeMs: summary.downtimeMs,
      pausedMs: summary.pausedMs,
      xlCpu,
      destQemuCpu,
    };
  } finally {
    dropRunFiles(disk, targets);
  }
}

async function benchBaseline(work: string, round: number): Promise<Figures> {
  const a = await openStore(path.join(work, `base${round}-a`));
  const b = await openStore(path.join(work, `base${round}-b`));
  const targets = path.join(work, `base${round}-targets`);
  mkdirSync(targets);
  const disk = await bootSource(work, a.root, 'qbase');
  await execa('sync');
  const [source] = await a.list();
  if (!source) throw new Error('no source domain');
  const target = path.join(targets, 'qbase.raw');
  const t0 = performance.now();
  await execa('qemu-img', ['create', '-q', '-f', 'raw', target, `${DISK_GIB}G`]);
  const config: DomainConfig = {
    ...source.config,
    disks: source.config.disks.map((d) => ({ ...d, target })),
  };
  const src = await QmpClient.connect(a.paths(source.id).qmp);
  // Exactly the source's RAM (with the TCG RAM tail where xl gave it one), as xl's receiver does.
  const { 'base-memory': ramBytes } = await src.execute<{ 'base-memory': number }>(
    'query-memory-size-summary',
  );
  const dest = await startDomain(b, config, {
    paused: true,
    incoming: 'defer',
    name: 'qbase--incoming',
    ramBytes,
  });
  const dst = await QmpClient.connect(b.paths(dest.id).qmp);
  try {
    const nbd = path.join(b.paths(dest.id).dir, 'nbd.sock');
    const mig = path.join(b.paths(dest.id).dir, 'mig.sock');
    await migrateSetCapabilities(dst, [
      { capability: 'events', state: true },
      { capability: 'late-block-activate', state: true },
    ]);
    await nbdServerStart(dst, { addr: unixSocketAddressLegacy(nbd) });
    await blockExportAdd(dst, {
      type: 'nbd',
      id: 'exp-xvda',
      'node-name': 'disk-xvda',
      writable: true,
      name: 'xvda',
    });
    await migrateIncoming(dst, { uri: `unix:${mig}` });
    const m0 = performance.now();
    await blockdevAdd(src, {
      driver: 'nbd',
      'node-name': 'mig-xvda',
      server: { type: 'unix', path: nbd },
      export: 'xvda',
    });
    await blockdevMirror(src, {
      'job-id': 'mirror-xvda',
      device: 'disk-xvda',
      target: 'mig-xvda',
      sync: 'full',
      'copy-mode': 'background',
      'auto-dismiss': false,
    });
    await waitForMirrorReady(src, ['mirror-xvda']);
    const r0 = performance.now();
    await migrateSetParameters(src, { 'max-bandwidth': 1024 ** 4 });
    await migrateSetCapabilities(src, [
      { capability: 'events', state: true },
      { capability: 'pause-before-switchover', state: true },
    ]);
    const stop = src.waitForEvent('STOP');
    await migrate(src, { uri: `unix:${mig}` });
    await followMigration(src, { untilPreSwitchover: true });
    await blockJobCancel(src, { device: 'mirror-xvda' });
    while ((await queryBlockJobs(src)).some((j) => j.device === 'mirror-xvda' && j.status !== 'concluded'))
      await sleep(5);
    await jobDismiss(src, { id: 'mirror-xvda' });
    await blockdevDel(src, { 'node-name': 'mig-xvda' });
    await migrateContinue(src, { state: 'pre-switchover' });
    const done = await followMigration(src);
    await followMigration(dst);
    await nbdServerStop(dst);
    await cont(dst);
    const resumedAt = Date.now();
    const t1 = performance.now();
    const pausedMs = Math.round(resumedAt - eventTimeMs(await stop));
    const destQemuCpu = cpuOf(dest.qemu?.pid);
    const { downtimeMs } = await finalMigrationFigures(src, done);
    return {
      mirror: (r0 - m0) / 1000,
      ram: (t1 - r0) / 1000,
      total: (t1 - t0) / 1000,
      downtimeMs: downtimeMs ?? NaN,
      pausedMs,
      xlCpu: 0,
      destQemuCpu,
    };
  } finally {
    await src.close();
    await dst.close();
    for (const [store, rec] of [
      [a, source],
      [b, dest],
    ] as [DomainStore, typeof source][])
      await destroyDomain(store, rec).catch(() => undefined);
    dropRunFiles(disk, targets);
  }
}

function row(name: string, f: Figures, base?: Figures): string {
  const delta = (x: number, y: number) => `${x - y >= 0 ? '+' : ''}${(x - y).toFixed(0)} ms`;
  const ratio = base
    ? `  ${(f.total / base.total).toFixed(2)}x total, downtime ${delta(f.downtimeMs, base.downtimeMs)}, paused ${delta(f.pausedMs, base.pausedMs)}`
    : '';
  const cpu = `CPU: xl ${f.xlCpu.toFixed(2)} s, dest QEMU ${f.destQemuCpu.toFixed(2)} s`;
  return `${name.padEnd(9)} mirror ${f.mirror.toFixed(2).padStart(6)} s  RAM ${f.ram.toFixed(2).padStart(6)} s  total ${f.total.toFixed(2).padStart(6)} s  downtime ${String(f.downtimeMs).padStart(4)} ms  paused ${String(f.pausedMs).padStart(4)} ms  ${cpu}${ratio}`;
}

/** The run with the least total. */
function best(runs: readonly Figures[]): Figures {
  return runs.reduce((x, y) => (y.total < x.total ? y : x));
}

function listRuns(name: string, runs: readonly Figures[]): string {
  return `${name}: ${runs.map((f) => `total ${f.total.toFixed(2)} (mirror ${f.mirror.toFixed(2)}, RAM ${f.ram.toFixed(2)}, downtime ${f.downtimeMs} ms, paused ${f.pausedMs} ms, xl CPU ${f.xlCpu.toFixed(2)} s, dest QEMU CPU ${f.destQemuCpu.toFixed(2)} s)`).join('; ')}`;
}

export async function benchMigrateQ(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'xlkit-bench-mq-'));
  const killAll = async () => {
    for (const dir of readdirSync(work).filter((d) => d.endsWith('-a') || d.endsWith('-b'))) {
      const s = path.join(work, dir);
      const list = await run(['--state-dir', s, 'list', '--json']).catch(() => undefined);
      for (const d of JSON.parse(list?.stdout || '[]') as { id: number }[])
        await run(['--state-dir', s, 'destroy', String(d.id)]);
    }
  };
  try {
    console.log(
      `migrate-q: guest ${MEMORY_MIB} MiB RAM, ${DISK_GIB} GiB raw disk with ${DATA_MIB} MiB of data, same host, TCG; ${REPS} round(s) of baseline, tunnel, direct, alternating; sync before each`,
    );
    const runs: Record<'baseline' | 'tunnel' | 'direct', Figures[]> = {
      baseline: [],
      tunnel: [],
      direct: [],
    };
    for (let i = 0; i < REPS; i++) {
      runs.baseline.push(await benchBaseline(work, i));
      console.log(`#${i + 1} ${row('baseline', runs.baseline[i] as Figures)}`);
      runs.tunnel.push(await benchXl(work, 'tunnel', i));
      console.log(`#${i + 1} ${row('tunnel', runs.tunnel[i] as Figures)}`);
      runs.direct.push(await benchXl(work, 'direct', i));
      console.log(`#${i + 1} ${row('direct', runs.direct[i] as Figures)}`);
    }
    const base = best(runs.baseline);
    const tunnel = best(runs.tunnel);
    const direct = best(runs.direct);
    console.log(`\nbest of ${REPS} (by total):`);
    console.log(row('baseline', base));
    console.log(row('tunnel', tunnel, base));
    console.log(row('direct', direct, base));
    console.log(row('(no -q)', await benchXl(work, 'plain', 0)));
    for (const [name, list] of Object.entries(runs)) console.log(listRuns(name, list));
    const med = (name: keyof typeof runs, key: keyof Figures) => median(runs[name].map((f) => f[key]));
    console.log(`\nmedian of ${REPS}:`);
    for (const name of ['baseline', 'tunnel', 'direct'] as const) {
      const ratio =
        name === 'baseline' ? '' : `  ${(med(name, 'total') / med('baseline', 'total')).toFixed(2)}x total`;
      console.log(
        `${name.padEnd(9)} total ${med(name, 'total').toFixed(2).padStart(6)} s  downtime ${med(name, 'downtimeMs').toFixed(0).padStart(4)} ms  paused ${med(name, 'pausedMs').toFixed(0).padStart(4)} ms${ratio}`,
      );
    }
    const chart = writeMigrationChart(
      'migrate-q',
      'xl migrate -q (disks mirrored) vs the raw QMP sequence',
      { baseline: runs.baseline, tunnel: runs.tunnel, direct: runs.direct },
      (f) => ({ seconds: f.total, pausedMs: f.pausedMs }),
    );
    console.log(`chart: ${path.relative(ROOT, chart)}`);
    // Totals on each side's best run; downtime on the medians, as in the migrate benchmark:
    // QEMU's figure jumps from run to run (here 11-212 ms for the baseline in one bench).
    const ok = (name: 'tunnel' | 'direct', f: Figures, goal: number) =>
      f.total <= goal * base.total && med(name, 'downtimeMs') <= med('baseline', 'downtimeMs') + 20;
    console.log(
      `goals: tunnel <= 1.25x and median downtime <= +20 ms: ${ok('tunnel', tunnel, 1.25) ? 'met' : 'NOT met'}; direct <= 1.10x and median downtime <= +20 ms: ${ok('direct', direct, 1.1) ? 'met' : 'NOT met'}`,
    );
  } finally {
    await killAll();
    rmSync(work, { recursive: true, force: true });
  }
}
