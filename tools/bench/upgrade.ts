/**
 * `npm run bench -- upgrade`: `xl upgrade` of a TCG guest holding random data (XLKIT_BENCH_FILL_MIB,
 * default 64 MiB), at 256 MiB, 1 GiB and 4 GiB of RAM, between the system's QEMU 7.2 and the QEMU in .cache/qemu-next/
 * (10.0; tools/setup), with:
 *   - xl shared: memory_backing = "shared" (RAM left in place, x-ignore-shared);
 *   - xl copied: anonymous RAM (copied over the unix socket);
 *   - raw: the same QMP sequence for shared RAM driven directly, no xl: start the new QEMU
 *     (-S -incoming defer, the same argv with the machine type pinned and the same RAM file),
 *     events + x-ignore-shared on both, migrate-incoming / migrate over a unix socket,
 *     completed on both, cont.
 * Goals: shared downtime <= 20 ms and flat (4 GiB within 1.5x of 256 MiB, medians), shared
 * total <= 1.2x raw (medians).
 *
 * xl's total is its --json summary's: from its first phase, `prepare` (the domain info the new
 * QEMU starts from, and that QEMU's start, which the handshake overlaps), to the guest running
 * on the new QEMU; the old QEMU's teardown, `cleanup`, is left out as the raw sequence's is, and
 * so are node's start-up and the binary check before the first phase. The raw sequence's total
 * likewise starts with its new QEMU's start. Downtime is QEMU's figure on both sides (the
 * old QEMU's vCPU stop until it sent everything); the guest's pause is the whole gap, from
 * that stop (its STOP event's timestamp) until the new QEMU's `cont` returned: xl's
 * `pausedMs`, and the same two points in the raw sequence. xl's `steps` (ms after the stop)
 * are printed per run. The chart is tools/bench/results/upgrade.svg.
 *
 * xl shared and raw move a fresh guest each, 7.2 -> 10.0, alternating (XLKIT_BENCH_REPS rounds,
 * default 3); xl copied moves one guest 7.2 -> 10.0, then 10.0 -> 10.0.
 * XLKIT_BENCH_SIZES (MiB, comma-separated) picks other sizes.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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
import { qemuEnv } from '@xlkit/xl';
import { bar, writeBenchChart } from './bench-chart.js';
import { median } from './median.js';
import { ROOT, waitForLine, xl } from './xl-cli.js';

const REPS = Math.max(1, Number(process.env.XLKIT_BENCH_REPS ?? 3));
const SIZES = (process.env.XLKIT_BENCH_SIZES ?? '256,1024,4096').split(',').map(Number);
/**
 * Random data each guest holds (MiB, at most 75% of its RAM). The guest writes it under TCG,
 * at a few MB/s on this machine when it is loaded: 64 MiB by default keeps a run under an hour.
 */
const FILL_MIB = Number(process.env.XLKIT_BENCH_FILL_MIB ?? 64);
const SYSTEM_QEMU = '/usr/bin/qemu-system-x86_64';
const NEXT_QEMU = path.join(ROOT, '.cache', 'qemu-next', 'root', 'usr', 'bin', 'qemu-system-x86_64');

interface Result {
  seconds: number;
  downtimeMs: number;
  /** The old QEMU's vCPU stop to the new QEMU's `cont` returned (ms). */
  pausedMs: number;
  streamBytes: number;
  /** xl's switch-over steps, ms after the stop. */
  steps?: Record<string, number>;
}

interface DomainJson {
  id: number;
  name: string;
  qemu: { pid: number; argv: string[]; binary: string };
}

function record(stateDir: string, name: string): DomainJson {
  const root = path.join(stateDir, 'domains');
  for (const id of readdirSync(root).filter((d) => /^\d+$/.test(d))) {
    const r = JSON.parse(readFileSync(path.join(root, id, 'domain.json'), 'utf8')) as DomainJson;
    if (r.name === name) return r;
  }
  throw new Error(`no domain ${name} in ${stateDir}`);
}

async function boot(
  stateDir: string,
  dir: string,
  name: string,
  mib: number,
  shared: boolean,
): Promise<void> {
  const guest = path.join(ROOT, '.cache', 'guest');
  const cfg = path.join(dir, `${name}.cfg`);
  await writeFile(
    cfg,
    [
      `name = "${name}"`,
      `memory = ${mib}`,
      'vcpus = 1',
      `kernel = "${path.join(guest, 'vmlinuz')}"`,
      `ramdisk = "${path.join(guest, 'initramfs.cpio.gz')}"`,
      `extra = "console=ttyS0 quiet xlkit.fill=${Math.min(FILL_MIB, Math.floor(mib * 0.75))}"`,
      'accel = "tcg"',
      `memory_backing = "${shared ? 'shared' : 'anonymous'}"`,
      '',
    ].join('\n'),
  );
  await xl(stateDir, 'create', cfg);
  const r = record(stateDir, name);
  await waitForLine(
    path.join(stateDir, 'domains', String(r.id), 'console.log'),
    /xlkit-fill done/,
    30 * 60_000,
  );
}

async function viaXl(stateDir: string, name: string, binary: string): Promise<Result> {
  const out = await xl(stateDir, 'upgrade', '--json', '--device-model', binary, name);
  const s = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e.event === 'summary') as {
    seconds: number;
    downtimeMs: number;
    pausedMs?: number;
    streamBytes: number;
    phases: Record<string, number>;
    steps?: Record<string, number>;
  };
  return {
    seconds: s.seconds - (s.phases.cleanup ?? 0),
    downtimeMs: s.downtimeMs,
    pausedMs: s.pausedMs ?? NaN,
    streamBytes: s.streamBytes,
    ...(s.steps ? { steps: s.steps } : {}),
  };
}

/** The raw sequence's running QEMU (after its first move, xl no longer knows it). */
interface RawQemu {
  pid: number;
  argv: string[];
  dir: string;
}

async function startQemu(binary: string, argv: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(binary, argv, { stdio: 'ignore', env: qemuEnv(process.env, binary) });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`QEMU exited with ${String(code)}`)),
    );
  });
}

async function viaRaw(
  src: RawQemu,
  binary: string,
  work: string,
  round: number,
): Promise<{ r: Result; now: RawQemu }> {
  const dst = path.join(work, `raw-${round}`);
  mkdirSync(dst, { recursive: true });
  const sock = path.join(dst, 'migrate.sock');
  // The source's argv in a new dir, its machine type pinned (the new binary's `pc` is newer),
  // waiting for the stream; the same memory-backend-file, so the RAM stays where it is.
  const base = src.argv.slice(0, src.argv.includes('-incoming') ? src.argv.indexOf('-S') : undefined);
  const newArgv = [
    ...base
      .map((x) => x.split(src.dir).join(dst))
      .map((x, i, all) => (all[i - 1] === '-machine' && x === 'pc' ? 'pc-i440fx-7.2' : x)),
    '-S',
    '-incoming',
    'defer',
  ];
  const t0 = performance.now();
  await startQemu(binary, newArgv);
  const pid = Number(readFileSync(path.join(dst, 'qemu.pid'), 'utf8').trim());
  const d = await QmpClient.connect(path.join(dst, 'qmp.sock'));
  const s = await QmpClient.connect(path.join(src.dir, 'qmp.sock'));
  try {
    const caps = [
      { capability: 'events' as const, state: true },
      { capability: 'x-ignore-shared' as const, state: true },
    ];
    await migrateSetCapabilities(d, caps);
    await migrateIncoming(d, { uri: `unix:${sock}` });
    const incoming = followMigration(d);
    incoming.catch(() => undefined);
    await migrateSetParameters(s, { 'max-bandwidth': Number.MAX_SAFE_INTEGER });
    await migrateSetCapabilities(s, caps);
    const stops = s.listen('STOP');
    await migrate(s, { uri: `unix:${sock}` });
    const done = await followMigration(s);
    await incoming;
    await cont(d);
    const resumedAt = Date.now();
    const seconds = (performance.now() - t0) / 1000;
    const stop = await stops.next();
    stops.close();
    const pausedMs = stop === undefined ? NaN : Math.round(resumedAt - eventTimeMs(stop));
    const downtimeMs = (await finalMigrationFigures(s, done)).downtimeMs ?? NaN;
    return {
      r: { seconds, downtimeMs, pausedMs, streamBytes: done.transferred },
      now: { pid, argv: newArgv, dir: dst },
    };
  } catch (err) {
    const tail = (dir: string) =>
      readFileSync(path.join(dir, 'qemu.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
    throw new Error(
      `raw move failed: ${String(err)}; source QEMU: ${tail(src.dir)}; new QEMU: ${tail(dst)}`,
      {
        cause: err,
      },
    );
  } finally {
    await s.close();
    await d.close();
    kill(src.pid);
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone.
  }
}

const fmt = (xs: Result[]): string => {
  const t = xs.map((r) => r.seconds);
  const d = xs.map((r) => r.downtimeMs);
  const p = xs.map((r) => r.pausedMs);
  return `total best ${Math.min(...t).toFixed(3)} s, median ${median(t).toFixed(3)} s; downtime best ${Math.min(...d)} ms, median ${median(d)} ms; guest paused best ${Math.min(...p)} ms, median ${median(p)} ms; stream median ${(median(xs.map((r) => r.streamBytes)) / 1024).toFixed(0)} KiB`;
};

export async function benchUpgrade(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'xlkit-bench-upg-'));
  const stateDir = path.join(work, 's');
  const rawPids: number[] = [];
  console.log(
    `upgrade ${SYSTEM_QEMU} -> ${NEXT_QEMU} (${readFileSync(path.join(ROOT, '.cache', 'qemu-next', 'VERSION'), 'utf8').trim()}), TCG guests holding ${FILL_MIB} MiB of random data (at most 75% of RAM); ${REPS} move(s) per contender`,
  );
  const summary: Record<number, { shared: Result[]; copied: Result[]; raw: Result[] }> = {};
  mkdirSync(stateDir, { recursive: true });
  try {
    for (const mib of SIZES) {
      const runs = { shared: [] as Result[], copied: [] as Result[], raw: [] as Result[] };
      summary[mib] = runs;
      // 7.2 -> 10.0 first, then 10.0 -> 10.0 (a QEMU 7.2 cannot take a stream from 10.0).
      const binaryFor = (_i: number) => NEXT_QEMU;
      // Copied RAM first, alone: it needs the guest's RAM twice while it moves.
      await boot(stateDir, work, 'copied', mib, false);
      for (let i = 0; i < REPS; i++) {
        const r = await viaXl(stateDir, 'copied', binaryFor(i));
        runs.copied.push(r);
        console.log(
          `${mib} MiB xl copied #${i + 1}: ${r.seconds.toFixed(3)} s, downtime ${r.downtimeMs} ms, paused ${r.pausedMs} ms, stream ${(r.streamBytes / 1048576).toFixed(1)} MiB`,
        );
      }
      await xl(stateDir, 'destroy', 'copied');
      // Shared RAM: a fresh pair of guests per move, both 7.2 -> 10.0 (the upgrade itself). A
      // second move 10.0 -> 10.0 of the raw sequence's guest failed in QEMU (kvm-tpr-opt state).
      for (let i = 0; i < REPS; i++) {
        await Promise.all([
          boot(stateDir, work, 'shared', mib, true),
          boot(stateDir, work, 'raw', mib, true),
        ]);
        const rec = record(stateDir, 'raw');
        const raw: RawQemu = {
          pid: rec.qemu.pid,
          argv: rec.qemu.argv,
          dir: path.join(stateDir, 'domains', String(rec.id)),
        };
        rawPids.push(raw.pid);
        const x = await viaXl(stateDir, 'shared', NEXT_QEMU);
        runs.shared.push(x);
        const moved = await viaRaw(raw, NEXT_QEMU, work, i + mib);
        rawPids.push(moved.now.pid);
        runs.raw.push(moved.r);
        console.log(
          `${mib} MiB #${i + 1}: xl shared ${x.seconds.toFixed(3)} s, downtime ${x.downtimeMs} ms, paused ${x.pausedMs} ms (steps ${JSON.stringify(x.steps ?? {})}), stream ${(x.streamBytes / 1024).toFixed(0)} KiB | raw ${moved.r.seconds.toFixed(3)} s, downtime ${moved.r.downtimeMs} ms, paused ${moved.r.pausedMs} ms, stream ${(moved.r.streamBytes / 1024).toFixed(0)} KiB`,
        );
        await xl(stateDir, 'destroy', 'shared');
        for (const pid of rawPids.splice(0)) kill(pid);
        // Its QEMU is gone: xl reaps the record (and its RAM file) on the way.
        await xl(stateDir, 'destroy', 'raw').catch(() => undefined);
      }
    }
  } finally {
    for (const pid of rawPids) kill(pid);
    for (const n of ['copied', 'shared', 'raw']) await xl(stateDir, 'destroy', n).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
  console.log('');
  for (const mib of SIZES) {
    const r = summary[mib]!;
    console.log(`${mib} MiB  xl shared: ${fmt(r.shared)}`);
    console.log(`${mib} MiB  raw      : ${fmt(r.raw)}`);
    console.log(`${mib} MiB  xl copied: ${fmt(r.copied)}`);
    const ratio = median(r.shared.map((x) => x.seconds)) / median(r.raw.map((x) => x.seconds));
    console.log(
      `${mib} MiB  xl shared / raw total (medians): ${ratio.toFixed(2)}x; goal <= 1.20x: ${ratio <= 1.2 ? 'met' : 'NOT met'}`,
    );
  }
  const down = SIZES.map((m) => median(summary[m]!.shared.map((x) => x.downtimeMs)));
  const flat = down.at(-1)! <= 1.5 * Math.max(down[0]!, 1);
  console.log(
    `xl shared downtime medians ${down.map((d, i) => `${SIZES[i]} MiB ${d} ms`).join(', ')}; goal <= 20 ms: ${down.every((d) => d <= 20) ? 'met' : 'NOT met'}; flat (largest within 1.5x of smallest): ${flat ? 'met' : 'NOT met'}`,
  );
  const paused = SIZES.map((m) => median(summary[m]!.shared.map((x) => x.pausedMs)));
  console.log(
    `xl shared guest-paused medians ${paused.map((d, i) => `${SIZES[i]} MiB ${d} ms`).join(', ')} (raw: ${SIZES.map((m) => `${median(summary[m]!.raw.map((x) => x.pausedMs))} ms`).join(', ')})`,
  );
  // Per size: downtime and pause for all three contenders; total (ms) for the shared-RAM pair.
  const group = (label: string, runs: Record<string, Result[]>, f: (r: Result) => number) => ({
    label,
    bars: Object.entries(runs).map(([who, xs]) => bar(who, xs.map(f))),
  });
  const chart = writeBenchChart(
    'upgrade',
    `xl upgrade 7.2 -> 10.0 vs raw QMP (TCG, ${FILL_MIB} MiB random)`,
    'milliseconds (lower is better); total for shared RAM only',
    SIZES.flatMap((mib) => {
      const r = summary[mib]!;
      const all = { 'xl shared': r.shared, raw: r.raw, 'xl copied': r.copied };
      return [
        group(`${mib} MiB downtime`, all, (x) => x.downtimeMs),
        group(`${mib} MiB guest paused`, all, (x) => x.pausedMs),
        group(`${mib} MiB total`, { 'xl shared': r.shared, raw: r.raw }, (x) => Math.round(x.seconds * 1000)),
      ];
    }),
  );
  console.log(`chart: ${path.relative(ROOT, chart)}`);
}
