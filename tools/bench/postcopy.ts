/**
 * `npm run bench -- postcopy`: a 512 MiB TCG guest (128 MiB of random data, a dirtier writing
 * 16 MiB/s over 32 MiB) that cannot converge at 8 MiB/s, moved by post-copy after its first
 * pre-copy pass, on this host, three ways:
 *   (a) `xl migrate --postcopy --postcopy-after 1 --bandwidth 8` over the relayed path (tunnel);
 *   (b) the same with `--transport direct` (QEMU to QEMU, xl orchestrating);
 *   (c) the same QMP sequence driven directly, QEMU to QEMU over a unix socket, no xl: the
 *       destination started `-S -incoming defer` with the source's argv; events + postcopy-ram
 *       on both (+ postcopy-blocktime and late-block-activate on the destination, as xl's
 *       receiver sets the latter), no pause-before-switchover (xl sets it only for `-q`);
 *       max-bandwidth and max-postcopy-bandwidth 8 MiB/s (xl applies --bandwidth to both);
 *       migrate; when the source's dirty-sync-count exceeds 1, migrate-start-postcopy (polled
 *       as xl polls, every 500 ms or on a MIGRATION event); `cont` on the destination as soon as the source reports postcopy-active (xl's receiver does `cont`
 *       then, on the sender's word); completed on both.
 *
 * Total: the destination's start to the migration completed on both (xl: its --json summary's
 * seconds without its `cleanup` phase, i.e. the receiver's start-up included, node's not).
 *
 * The guest's pause, the source's STOP event to the destination running:
 *   - raw: STOP's timestamp to `cont` returning (the goal's figure); the destination's RESUME
 *     event is listed too (cont may return before the guest runs: on a destination still
 *     loading, it only arms autostart);
 *   - xl: its summary's `pausedMs`: STOP to the moment the sender told the receiver to run the
 *     guest (POSTCOPY_GO), which the receiver does at once; its `cont` is not counted.
 *
 * The page-request round trip: QEMU 7.2 reports `postcopy-blocktime` (ms all vCPUs were blocked
 * on missing pages) and `postcopy-vcpu-blocktime` on the destination, with the
 * postcopy-blocktime capability set before the migration (xl's receiver sets it whenever
 * post-copy is allowed; the destination keeps the figures until it exits, so they are read
 * after xl exits); `postcopy-requests` and `postcopy-bytes` on the source (xl reports them in
 * its `postcopy-figures` event). Blocked time per request is the mean round trip of a page
 * fault as the guest felt it (one vCPU): request out, page back, through xl's relay or not.
 *
 * XLKIT_BENCH_REPS rounds (default 2) of (a), (b), (c); every run listed, then best and median
 * per contender. Goals (medians, against (c)): total <= 1.15x; guest pause <= raw + 20 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { QmpClient, queryMigrate } from '@xlkit/qmp';
import { ROOT, benchGuestConfig, XL, xl } from './xl-cli.js';
import { median } from './median.js';
import { raw } from './postcopy-raw.js';
import {
  BANDWIDTH_MIB,
  boot,
  domainDir,
  lastId,
  MEMORY_MIB,
  NAME,
  REPS,
  type Result,
  WORKLOAD,
} from './postcopy-rig.js';
import { writeMigrationChart } from './bench-chart.js';

interface XlEvent {
  event: string;
  phase?: string;
  time?: number;
  [k: string]: unknown;
}

async function viaXl(a: string, b: string, cfg: string, transport: 'tunnel' | 'direct'): Promise<Result> {
  await boot(a, cfg);
  const events: { ev: XlEvent; arrived: number }[] = [];
  try {
    const child = execa(
      process.execPath,
      [
        XL,
        '--state-dir',
        a,
        'migrate',
        '--json',
        '--transport',
        transport,
        '--bandwidth',
        String(BANDWIDTH_MIB),
        '--postcopy',
        '--postcopy-after',
        '1',
        '-s',
        '',
        NAME,
        // xl runs its HOST argument through sh -c with -s '' (as migrate.ts does).
        `${process.execPath} ${XL} --state-dir ${b} migrate-receive`,
      ],
      { reject: false, stdin: 'ignore' },
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      const arrived = Date.now();
      try {
        events.push({ ev: JSON.parse(line) as XlEvent, arrived });
      } catch {
        // Not an event.
      }
    });
    const r = await child;
    if (r.exitCode !== 0) throw new Error(`xl migrate failed (${String(r.exitCode)}): ${String(r.stderr)}`);
    const s = events.find((e) => e.ev.event === 'summary')?.ev as
      | (XlEvent & {
          seconds: number;
          downtimeMs?: number;
          pausedMs?: number;
          phases: Record<string, number>;
        })
      | undefined;
    if (s === undefined) throw new Error('xl migrate printed no summary');
    const start = events.find((e) => e.ev.event === 'postcopy-start')?.ev as { pass?: number } | undefined;
    if (events.every((e) => e.ev.event !== 'postcopy-active'))
      throw new Error('xl did not go through post-copy');
    if (s.pausedMs === undefined) throw new Error('xl reported no pausedMs');
    // After xl exits its destination QEMU's QMP is free: the vCPUs' blocked time.
    const q = await QmpClient.connect(path.join(domainDir(b, lastId(b)), 'qmp.sock'));
    let blocktime: { total?: number; vcpus?: number[] } = {};
    try {
      const info = (await queryMigrate(q)) as {
        'postcopy-blocktime'?: number;
        'postcopy-vcpu-blocktime'?: number[];
      };
      blocktime = { total: info['postcopy-blocktime'], vcpus: info['postcopy-vcpu-blocktime'] };
    } finally {
      await q.close();
    }
    const figures = events.find((e) => e.ev.event === 'postcopy-figures')?.ev as
      { requests?: number; bytes?: number } | undefined;
    return {
      seconds: s.seconds - (s.phases.cleanup ?? 0),
      pauseMs: s.pausedMs,
      ...(s.downtimeMs === undefined ? {} : { downtimeMs: s.downtimeMs }),
      ...(start?.pass === undefined ? {} : { switchPass: start.pass }),
      ...(blocktime.total === undefined ? {} : { blocktimeMs: blocktime.total }),
      ...(blocktime.vcpus === undefined ? {} : { vcpuBlocktimeMs: blocktime.vcpus }),
      ...(figures?.requests === undefined ? {} : { requests: figures.requests }),
      ...(figures?.bytes === undefined ? {} : { postcopyBytes: figures.bytes }),
    };
  } finally {
    await xl(b, 'destroy', NAME).catch(() => undefined);
  }
}

/** The extra query-migrate fields a 7.2 destination reports with postcopy-blocktime on. */
type Contender = 'xl tunnel' | 'xl direct' | 'raw';
const CONTENDERS: readonly Contender[] = ['xl tunnel', 'xl direct', 'raw'];

const mib = (n: number | undefined): string => (n === undefined ? '?' : `${(n / 1048576).toFixed(1)} MiB`);

function describe(who: Contender, i: number, r: Result): string {
  const head = `${who.padEnd(9)} #${i + 1}: total ${r.seconds.toFixed(2)} s, guest pause ${r.pauseMs} ms`;
  const down = `, QEMU downtime ${r.downtimeMs ?? '?'} ms, switched at pass ${r.switchPass ?? '?'}`;
  const how =
    who === 'raw'
      ? ` (to cont returning; to the destination's RESUME event ${r.resumeEventMs ?? '?'} ms)`
      : " (xl's pausedMs: STOP to POSTCOPY_GO)";
  const precopy = r.precopyBytes === undefined ? '' : `, precopy-bytes ${mib(r.precopyBytes)}`;
  return (
    `${head}${how}${down}\n` +
    `    QEMU: postcopy-blocktime ${r.blocktimeMs ?? 'n/a'} ms (vCPUs ${JSON.stringify(r.vcpuBlocktimeMs ?? [])}), ` +
    `postcopy-requests ${r.requests ?? 'n/a'}, ${perRequest(r) ?? 'n/a'} ms blocked per request, ` +
    `postcopy-bytes ${mib(r.postcopyBytes)}${precopy}${r.note === undefined ? '' : `; ${r.note}`}`
  );
}

/** The mean page-fault round trip (ms), when both counts are known. */
function perRequest(r: Result): string | undefined {
  return r.blocktimeMs !== undefined && r.requests !== undefined && r.requests > 0
    ? (r.blocktimeMs / r.requests).toFixed(1)
    : undefined;
}

export async function benchPostcopy(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-bench-pc-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const cfg = path.join(dir, 'bench.cfg');
  await writeFile(cfg, benchGuestConfig({ name: NAME, memoryMiB: MEMORY_MIB, workload: WORKLOAD }));
  console.log(
    `guest: ${MEMORY_MIB} MiB RAM, ${WORKLOAD} (TCG); ${BANDWIDTH_MIB} MiB/s pre- and post-copy, post-copy after pass 1; ` +
      `${REPS} round(s) of xl tunnel, xl direct, raw QMP`,
  );
  const runs: Record<Contender, Result[]> = { 'xl tunnel': [], 'xl direct': [], raw: [] };
  try {
    for (let i = 0; i < REPS; i++) {
      for (const who of CONTENDERS) {
        const r =
          who === 'raw'
            ? await raw(a, dir, cfg)
            : await viaXl(a, b, cfg, who === 'xl direct' ? 'direct' : 'tunnel');
        runs[who].push(r);
        console.log(describe(who, i, r));
      }
    }
  } finally {
    await xl(a, 'destroy', NAME).catch(() => undefined);
    await xl(b, 'destroy', NAME).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const stats = (who: Contender) => {
    const xs = runs[who];
    return {
      best: Math.min(...xs.map((r) => r.seconds)),
      median: median(xs.map((r) => r.seconds)),
      pause: median(xs.map((r) => r.pauseMs)),
      bestPause: Math.min(...xs.map((r) => r.pauseMs)),
    };
  };
  const chart = writeMigrationChart(
    'postcopy',
    'post-copy migration: xl vs the raw QMP sequence',
    runs,
    (r) => ({ seconds: r.seconds, pausedMs: r.pauseMs }),
  );
  console.log(`chart: ${path.relative(ROOT, chart)}`);
  const base = stats('raw');
  const roundTrip = (who: Contender): string => {
    const xs = runs[who]
      .map((r) => perRequest(r))
      .filter((x): x is string => x !== undefined)
      .map(Number);
    return xs.length === 0 ? 'n/a' : `${median(xs).toFixed(1)} ms`;
  };
  console.log(
    `\nraw:       best ${base.best.toFixed(2)} s, median ${base.median.toFixed(2)} s, median guest pause ${base.pause.toFixed(0)} ms ` +
      `(best ${base.bestPause} ms); median page-fault round trip (blocked time per request) ${roundTrip('raw')}`,
  );
  for (const who of ['xl tunnel', 'xl direct'] as const) {
    const x = stats(who);
    const ratio = x.median / base.median;
    const okTotal = ratio <= 1.15;
    const okPause = x.pause <= base.pause + 20;
    console.log(
      `${who}: best ${x.best.toFixed(2)} s (${(x.best / base.best).toFixed(2)}x), median ${x.median.toFixed(2)} s = ${ratio.toFixed(2)}x ` +
        `(goal <= 1.15x: ${okTotal ? 'met' : 'NOT met'}); median guest pause ${x.pause.toFixed(0)} ms ` +
        `(${x.pause - base.pause >= 0 ? '+' : ''}${(x.pause - base.pause).toFixed(0)} ms; goal <= +20 ms: ${okPause ? 'met' : 'NOT met'}); ` +
        `median page-fault round trip ${roundTrip(who)}`,
    );
  }
}
