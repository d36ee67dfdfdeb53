/**
 * `npm run bench -- migrate`: a TCG guest with 512 MiB of RAM, 256 MiB of it random data and a
 * RAM dirtier running (`--2g`: 2 GiB of RAM, 1 GiB random, where the fixed start-up weighs
 * less), migrated on this host by `xl migrate -s ''` over both transports (tunnel: RAM relayed
 * through the pipe as verified records; direct: QEMU to QEMU over the receiver's unix socket,
 * xl orchestrating) and, in the same run, by the same QMP sequence driven directly
 * (QEMU to QEMU over a unix socket, no xl at all): start the destination (-S -incoming defer),
 * events, unlimited bandwidth, migrate, completed, cont. (No pause-before-switchover on either
 * side: xl asks for it only when a participant finishes there, as `-q`'s mirrors do.)
 * Goals (on the medians): tunnel total <= 1.15x the baseline (1.25x with `--2g`, as issue 24
 * asks), direct <= 1.10x; downtime at most the baseline's + 20 ms.
 *
 * xl's figures come from its --json summary (so `node` start-up of the sender is not counted;
 * the receiver's start-up is, as it is part of a migration), up to the destination resumed:
 * the source's teardown after that (xl's `cleanup` phase) is left out, as the baseline's is.
 *
 * Each xl run also reports the CPU seconds of its two xl processes (sender and receiver): on
 * this 2-core machine the QEMUs keep both cores busy, so what the relay costs shows up in the
 * totals (docs/tunnel-cpu-cost.md). `XLKIT_RAM_READ=node` makes the sender read QEMU's socket
 * through Node instead of natively (the A/B of that change).
 *
 * Two pauses are reported: QEMU's downtime (the source's vCPU stop until it has sent the rest,
 * the goal's figure) and the guest's pause (that stop until the destination runs it: for xl,
 * until the receiver reports; for the baseline, until `cont` returns).
 *
 * The machine is noisy: XLKIT_BENCH_REPS rounds of the three, alternating (default 3); the goals
 * are judged on the median total and the median downtime (QEMU's downtime figure jumps, e.g. one
 * baseline run of 1007 ms among runs of 27-28 ms, so neither its best nor its mean is telling);
 * every run is listed. XLKIT_BENCH_TRANSPORTS=direct (or tunnel; comma-separated) runs only those
 * of xl's transports against the baseline, and leaves the committed chart alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  QmpClient,
  cont,
  eventTimeMs,
  finalMigrationFigures,
  followMigration,
  migrate,
  migrateIncoming,
  migrateSetCapabilities,
  migrateSetParameters,
} from '@xlkit/qmp';
import { qemuEnv, readProcStat } from '@xlkit/xl';
import { ROOT, benchGuestConfig, XL, xl, waitForLine } from './xl-cli.js';
import { median } from './median.js';
import { writeMigrationChart } from './bench-chart.js';

const REPS = Math.max(2, Number(process.env.XLKIT_BENCH_REPS ?? 3));
const BIG = process.argv.includes('--2g');
const MEMORY_MIB = BIG ? 2048 : 512;
const FILL_MIB = BIG ? 1024 : 256;
const DIRTY = 'xlkit.dirty=16 xlkit.dirtymb=64';
const TRANSPORTS = (process.env.XLKIT_BENCH_TRANSPORTS ?? 'tunnel,direct').split(',').map((t) => t.trim());
for (const t of TRANSPORTS)
  if (t !== 'tunnel' && t !== 'direct') throw new Error(`XLKIT_BENCH_TRANSPORTS: unknown transport '${t}'`);
const SOME = !(TRANSPORTS.includes('tunnel') && TRANSPORTS.includes('direct'));

interface Domain {
  id: number;
  qemu: { pid: number; argv: string[]; binary: string };
}

function onlyDomain(stateDir: string): Domain {
  const views = JSON.parse(
    readFileSync(path.join(stateDir, 'domains', String(lastId(stateDir)), 'domain.json'), 'utf8'),
  ) as Domain;
  return views;
}

function lastId(stateDir: string): number {
  return Number(readFileSync(path.join(stateDir, 'next-id'), 'utf8').trim()) - 1;
}

interface Result {
  seconds: number;
  /** QEMU's: the source's vCPU stop until it has sent everything. */
  downtimeMs: number;
  /** The guest's: the source's vCPU stop (its STOP event) until the destination runs it. */
  pausedMs: number;
  ramSeconds?: number;
  phases?: string;
  /** CPU seconds of the two xl processes (the sender and the receiver it started, both reaped by then). */
  xlCpu?: number;
}

/** CPU seconds of every child this process reaped (an `xl migrate` with its receiver; not the QEMUs, which daemonize away). */
const reapedCpu = (): number => readProcStat(process.pid)?.reapedChildrenCpuSeconds ?? NaN;

async function boot(stateDir: string, cfg: string): Promise<Domain> {
  await xl(stateDir, 'create', cfg);
  const d = onlyDomain(stateDir);
  await waitForLine(
    path.join(stateDir, 'domains', String(d.id), 'console.log'),
    /xlkit-dirty start/,
    30 * 60_000,
  );
  await sleep(2_000);
  return d;
}

async function viaXl(a: string, b: string, cfg: string, transport: 'tunnel' | 'direct'): Promise<Result> {
  await boot(a, cfg);
  const cpu0 = reapedCpu();
  const out = await xl(
    a,
    'migrate',
    '--json',
    '--transport',
    transport,
    '-s',
    '',
    'mbench',
    `${process.execPath} ${XL} --state-dir ${b} migrate-receive`,
  );
  const xlCpu = reapedCpu() - cpu0;
  const events = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const s = events.find((e) => e.event === 'summary') as {
    seconds: number;
    downtimeMs: number;
    pausedMs: number;
    phases: Record<string, number>;
  };
  await xl(b, 'destroy', 'mbench');
  return {
    seconds: s.seconds - (s.phases.cleanup ?? 0),
    downtimeMs: s.downtimeMs,
    pausedMs: s.pausedMs,
    ramSeconds: s.phases.ram,
    xlCpu,
    phases: Object.entries(s.phases)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', '),
  };
}

async function baseline(a: string, dir: string, cfg: string): Promise<Result> {
  const src = await boot(a, cfg);
  const srcDir = path.join(a, 'domains', String(src.id));
  const dst = path.join(dir, 'baseline');
  await mkdir(dst, { recursive: true });
  const sock = path.join(dst, 'migrate.sock');
  const args = src.qemu.argv.map((x) => x.split(srcDir).join(dst));
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(src.qemu.binary, [...args, '-S', '-incoming', 'defer'], {
      stdio: 'ignore',
      env: qemuEnv(),
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`baseline QEMU exited with ${String(code)}`)),
    );
  });
  const dstPid = Number(readFileSync(path.join(dst, 'qemu.pid'), 'utf8').trim());
  const d = await QmpClient.connect(path.join(dst, 'qmp.sock'));
  const s = await QmpClient.connect(path.join(srcDir, 'qmp.sock'));
  try {
    await migrateSetCapabilities(d, [
      { capability: 'events', state: true },
      { capability: 'late-block-activate', state: true },
    ]);
    await migrateIncoming(d, { uri: `unix:${sock}` });
    const incoming = followMigration(d);
    const stop = s.waitForEvent('STOP');
    await migrateSetParameters(s, { 'max-bandwidth': Number.MAX_SAFE_INTEGER });
    await migrateSetCapabilities(s, [{ capability: 'events', state: true }]);
    const ramFrom = performance.now();
    await migrate(s, { uri: `unix:${sock}` });
    const done = await followMigration(s);
    const ramTo = performance.now();
    const ramSeconds = (ramTo - ramFrom) / 1000;
    await incoming;
    await cont(d);
    const resumedAt = Date.now();
    const end = performance.now();
    const seconds = (end - t0) / 1000;
    const phases = `setup ${((ramFrom - t0) / 1000).toFixed(2)}, ram ${ramSeconds.toFixed(2)}, tail ${((end - ramTo) / 1000).toFixed(2)}`;
    const pausedMs = Math.round(resumedAt - eventTimeMs(await stop));
    return {
      seconds,
      downtimeMs: (await finalMigrationFigures(s, done)).downtimeMs ?? NaN,
      pausedMs,
      ramSeconds,
      phases,
    };
  } finally {
    await s.close();
    await d.close();
    for (const pid of [dstPid, src.qemu.pid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    await xl(a, 'list').catch(() => undefined);
  }
}

type Contender = 'xl tunnel' | 'xl direct' | 'baseline';
const CONTENDERS: readonly Contender[] = (['xl tunnel', 'xl direct', 'baseline'] as const).filter(
  (c) => c === 'baseline' || TRANSPORTS.includes(c.slice(3)),
);

export async function benchMigrate(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-bench-mig-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const cfg = path.join(dir, 'bench.cfg');
  await writeFile(
    cfg,
    benchGuestConfig({ name: 'mbench', memoryMiB: MEMORY_MIB, workload: `xlkit.fill=${FILL_MIB} ${DIRTY}` }),
  );
  console.log(
    `guest: ${MEMORY_MIB} MiB RAM, ${FILL_MIB} MiB random, dirtier ${DIRTY} (TCG); ${REPS} run(s) each, alternating`,
  );
  const runs: Record<Contender, Result[]> = { 'xl tunnel': [], 'xl direct': [], baseline: [] };
  try {
    for (let i = 0; i < REPS; i++) {
      for (const who of CONTENDERS) {
        const r =
          who === 'baseline'
            ? await baseline(a, dir, cfg)
            : await viaXl(a, b, cfg, who === 'xl direct' ? 'direct' : 'tunnel');
        runs[who].push(r);
        console.log(
          `${who.padEnd(10)} #${i + 1}: total ${r.seconds.toFixed(2)} s${r.ramSeconds === undefined ? '' : ` (ram ${r.ramSeconds.toFixed(2)} s)`}, downtime ${r.downtimeMs} ms, guest paused ${r.pausedMs} ms${r.xlCpu === undefined ? '' : `, xl CPU ${r.xlCpu.toFixed(2)} s`}${r.phases ? `  [${r.phases}]` : ''}`,
        );
      }
    }
  } finally {
    await xl(a, 'destroy', 'mbench').catch(() => undefined);
    await xl(b, 'destroy', 'mbench').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const base = runs.baseline;
  const [bt, bm, bd] = [
    Math.min(...base.map((r) => r.seconds)),
    median(base.map((r) => r.seconds)),
    median(base.map((r) => r.downtimeMs)),
  ];
  console.log(
    `\nbaseline: best ${bt.toFixed(2)} s, median ${bm.toFixed(2)} s, median downtime ${bd.toFixed(0)} ms, median pause ${median(base.map((r) => r.pausedMs)).toFixed(0)} ms`,
  );
  if (!SOME) {
    const chart = writeMigrationChart(
      BIG ? 'migrate-2g' : 'migrate',
      `xl migrate vs the raw QMP sequence: ${MEMORY_MIB} MiB guest, dirtier on`,
      runs,
      (r) => r,
    );
    console.log(`chart: ${path.relative(ROOT, chart)}`);
  }
  for (const [who, goal] of [
    ['xl tunnel', BIG ? 1.25 : 1.15],
    ['xl direct', 1.1],
  ] as const) {
    const xs = runs[who];
    if (xs.length === 0) continue;
    const [xt, xm, xd] = [
      Math.min(...xs.map((r) => r.seconds)),
      median(xs.map((r) => r.seconds)),
      median(xs.map((r) => r.downtimeMs)),
    ];
    const ok = xm / bm <= goal && xd <= bd + 20;
    console.log(
      `${who}: best ${xt.toFixed(2)} s (${(xt / bt).toFixed(2)}x), median ${xm.toFixed(2)} s = ${(xm / bm).toFixed(2)}x, ` +
        `median downtime ${xd.toFixed(0)} ms (${xd - bd >= 0 ? '+' : ''}${(xd - bd).toFixed(0)} ms), median pause ${median(xs.map((r) => r.pausedMs)).toFixed(0)} ms, ` +
        `median xl CPU ${median(xs.map((r) => r.xlCpu ?? NaN)).toFixed(2)} s; ` +
        `goal median <= ${goal.toFixed(2)}x and downtime <= +20 ms: ${ok ? 'met' : 'NOT met'}`,
    );
  }
}
