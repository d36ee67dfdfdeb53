/**
 * `npm run bench -- save-restore`: a TCG guest with 1 GiB of RAM filled with random data (the
 * guest's fill workload), saved and restored by xl, and in the same run by QEMU's own path
 * driven directly over QMP (raw-qemu.ts). Goal: xl at most 1.05x the baseline's time for both.
 *
 * The same boundary on both sides: the operation proper, without any process's start-up.
 *   save = the guest's stop until the file is durable: xl's --json summary (stop, header,
 *     RAM, fsync, rename; xl destroys the guest after that, which is not counted), the
 *     baseline's stop + `migrate exec:cat > FILE` + the file's fsync.
 *   restore = the start of QEMU until the stream is loaded: xl's summary (headers, host check,
 *     QEMU start, RAM with every crc and the digest checked; `-p`, so no resume), the baseline's
 *     QEMU start + `migrate-incoming exec:cat FILE` to completed.
 * Every file is removed before the next save on both sides, so neither pays for freeing an old
 * one (`cat >` truncates inside the baseline's timing, xl hands it to a helper outside its own).
 * xl's whole commands (node's start-up and the destroy included) are printed beside; `npm run
 * bench -- peers` compares whole commands with virsh.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bar, writeBenchChart } from './bench-chart.js';
import { median } from './median.js';
import { killQuietly, rawRestore, rawResume, rawSave, type Timed } from './raw-qemu.js';
import { ROOT, benchGuestConfig, xl, waitForLine } from './xl-cli.js';

const FILL_MIB = Number(process.env.XLKIT_BENCH_FILL_MIB ?? 1024);
const MEMORY_MIB = FILL_MIB + 256;
const GOAL = 1.05;
const REPS = Number(process.env.XLKIT_BENCH_REPS ?? 3);

/** "header@0.02 ram@0.03 sync@3.20": when each phase of xl's --json events began. */
function phasesOf(stdout: string): string {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event?: string; phase?: string; time?: number })
    .filter((e) => e.event === 'phase')
    .map((e) => `${e.phase}@${e.time?.toFixed(2)}`)
    .join(' ');
}

interface Summary extends Timed {
  phases: string;
  /** The whole command by wall clock (node's start-up, and a save's destroy, included). */
  wall: number;
}

function summaryOf(stdout: string, wall: number): Summary {
  const last = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    event?: string;
    seconds?: number;
    bytes?: number;
  };
  if (last.event !== 'summary' || typeof last.seconds !== 'number' || typeof last.bytes !== 'number')
    throw new Error(`no summary in: ${stdout.slice(-300)}`);
  return { seconds: last.seconds, bytes: last.bytes, phases: phasesOf(stdout), wall };
}

async function xlTimed(stateDir: string, ...args: string[]): Promise<Summary> {
  const t0 = performance.now();
  const out = await xl(stateDir, ...args);
  return summaryOf(out, (performance.now() - t0) / 1000);
}

interface Record {
  qemu: { pid: number; argv: string[]; binary: string };
}

function domainRecord(stateDir: string, id: number): Record {
  return JSON.parse(
    readFileSync(path.join(stateDir, 'domains', String(id), 'domain.json'), 'utf8'),
  ) as Record;
}

const mbps = (runs: Timed[]) => (runs[0]?.bytes ?? 0) / median(runs.map((r) => r.seconds)) / 1e6;

export async function benchSaveRestore(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-bench-sr-'));
  const stateDir = path.join(dir, 's');
  const cfg = path.join(dir, 'bench.cfg');
  await writeFile(
    cfg,
    benchGuestConfig({ name: 'bench', memoryMiB: MEMORY_MIB, workload: `xlkit.fill=${FILL_MIB}` }),
  );
  const restoreCfg = path.join(dir, 'restore.cfg');
  await writeFile(
    restoreCfg,
    (await readFile(cfg, 'utf8')).replace('name = "bench"', 'name = "bench-restored"'),
  );
  const pids: number[] = [];
  try {
    await xl(stateDir, 'create', cfg);
    const first = domainRecord(stateDir, 1);
    pids.push(first.qemu.pid);
    const domainDir = path.join(stateDir, 'domains', '1');
    console.log(`guest: ${MEMORY_MIB} MiB RAM, filling ${FILL_MIB} MiB with random data (TCG)...`);
    await waitForLine(path.join(domainDir, 'console.log'), /xlkit-fill done/, 30 * 60_000);

    const baseFile = path.join(dir, 'baseline.save');
    const xlFile = path.join(dir, 'xl.save');
    const qmpPath = path.join(domainDir, 'qmp.sock');
    const bSaves: Timed[] = [];
    const xSaves: Summary[] = [];
    const bRestores: Timed[] = [];
    const xRestores: Summary[] = [];
    // Rounds alternate which side goes first. The guest is saved by both sides while running
    // (the baseline's `cont`s it, xl's -c), then each file is restored into a new QEMU, killed
    // untimed; both files are removed before the next round.
    for (let i = 0; i < REPS; i++) {
      const sides = [
        async () => {
          bSaves.push(await rawSave(qmpPath, baseFile, true));
          await rawResume(qmpPath);
        },
        async () => {
          xSaves.push(await xlTimed(stateDir, 'save', '--json', '-c', 'bench', xlFile));
        },
      ];
      for (const side of i % 2 === 0 ? sides : sides.reverse()) await side();
      const restores = [
        async () => {
          const r = await rawRestore(first.qemu, domainDir, path.join(dir, 'baseline'), baseFile);
          killQuietly(r.pid);
          bRestores.push(r);
        },
        async () => {
          // Under another name: the saved guest still runs as 'bench'.
          xRestores.push(await xlTimed(stateDir, 'restore', '--json', '-p', restoreCfg, xlFile));
          await xl(stateDir, 'destroy', 'bench-restored');
        },
      ];
      for (const side of i % 2 === 0 ? restores : restores.reverse()) await side();
      rmSync(baseFile);
      rmSync(xlFile);
    }
    const secs = (runs: Timed[]) => runs.map((r) => r.seconds);
    const row = (name: string, x: Timed[], b: Timed[]) => {
      const ratio = median(secs(x)) / median(secs(b));
      return `| ${name} | ${median(secs(x)).toFixed(2)} s (best ${Math.min(...secs(x)).toFixed(2)}, ${mbps(x).toFixed(0)} MB/s) | ${median(secs(b)).toFixed(2)} s (best ${Math.min(...secs(b)).toFixed(2)}, ${mbps(b).toFixed(0)} MB/s) | ${ratio.toFixed(3)}x | ${ratio <= GOAL ? 'met' : 'NOT met'} |`;
    };
    const all = (runs: number[]) => runs.map((r) => r.toFixed(2)).join(', ');
    console.log(`command: npm run bench -- save-restore (XLKIT_BENCH_REPS=${REPS})`);
    console.log(
      `guest: ${MEMORY_MIB} MiB, ${FILL_MIB} MiB random; xl file ${(xSaves[0]!.bytes / 1e6).toFixed(0)} MB, baseline file ${(bSaves[0]!.bytes / 1e6).toFixed(0)} MB`,
    );
    console.log(`| operation (medians) | xl | QEMU baseline | ratio | goal <= ${GOAL}x |`);
    console.log('| --- | --- | --- | --- | --- |');
    console.log(row('save (stop to durable file)', xSaves, bSaves));
    console.log(row('restore (QEMU start to loaded)', xRestores, bRestores));
    console.log(
      `all runs (s): xl save ${all(secs(xSaves))} (whole command ${all(xSaves.map((r) => r.wall))}); baseline save ${all(secs(bSaves))}; xl restore ${all(secs(xRestores))} (whole command ${all(xRestores.map((r) => r.wall))}); baseline restore ${all(secs(bRestores))}`,
    );
    const last = (runs: Summary[]) => runs.at(-1)!;
    console.log(
      `xl phases (s since start, last run): save ${last(xSaves).phases} end@${last(xSaves).seconds.toFixed(2)}; restore ${last(xRestores).phases} end@${last(xRestores).seconds.toFixed(2)}`,
    );
    const chart = writeBenchChart(
      'save-restore',
      `xl vs QEMU's own path: ${MEMORY_MIB} MiB guest, ${FILL_MIB} MiB random`,
      'seconds, the operation proper (lower is better)',
      [
        { label: 'save', bars: [bar('xl', secs(xSaves)), bar('qemu', secs(bSaves))] },
        { label: 'restore', bars: [bar('xl', secs(xRestores)), bar('qemu', secs(bRestores))] },
      ],
    );
    console.log(`chart: ${path.relative(ROOT, chart)}`);
  } finally {
    for (const id of existsSync(path.join(stateDir, 'domains'))
      ? readdirSync(path.join(stateDir, 'domains'))
      : []) {
      try {
        pids.push(domainRecord(stateDir, Number(id)).qemu.pid);
      } catch {
        // No record.
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
