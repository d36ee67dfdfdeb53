/**
 * `npm run soak -- --minutes N`: one guest (writing its disk pattern, checking its RAM, dirtying
 * it) migrated back and forth for N minutes: within one host (two state dirs) and between two
 * hosts (network namespaces, over ssh), with and without -q, a save and a restore every round.
 * At the end the guest verifies its disk and its RAM checker's log, and the figures are printed:
 * migrations, failures (must be 0), bytes moved, max downtime, the sending xl's peak RSS per
 * round (must not grow). Exit 1 on any failure or growth.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { DomainView } from '@xlkit/xl';
import {
  cleanupAll,
  createHostPair,
  ramcheckLog,
  ramcheckWorkload,
  startSshd,
  waitForSsh,
  type NetnsHost,
} from '../../test/helpers/index.js';
import { bootWriter, guestVerify } from '../../test/migrate-q-rig.js';
import { continuous, waitForBeatAbove, XL, xlHost, type XlHost } from '../../test/xl-rig.js';

const NAME = 'soak';
const minutesArg = process.argv.indexOf('--minutes');
const minutes = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) : 5;
if (!(minutes > 0)) {
  console.error('usage: npm run soak -- --minutes N');
  process.exit(2);
}

interface Place {
  label: string;
  host: XlHost;
  ns: NetnsHost;
}

interface Step {
  kind: string;
  ok: boolean;
  seconds: number;
  bytes: number;
  downtimeMs: number;
  pausedMs: number;
  rssMiB: number;
  error?: string;
}

/** Runs xl inside `ns`, sampling its peak RSS (VmHWM) until it exits. */
async function xlIn(ns: NetnsHost, args: string[]) {
  const [file, ...rest] = ns.wrap(['node', XL, ...args]);
  // `ip netns exec` execs xl: the pid is xl's.
  const child = execa(file!, rest, { reject: false, timeout: 600_000, stdin: 'ignore' });
  let peakKiB = 0;
  const sample = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // Gone.
    }
  }, 50);
  const r = await child.finally(() => clearInterval(sample));
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    rssMiB: peakKiB / 1024,
  };
}

async function view(p: Place): Promise<DomainView> {
  const [v] = JSON.parse((await p.host.xl('list', '--json', NAME)).stdout) as DomainView[];
  if (!v) throw new Error(`${NAME} is not on ${p.label}`);
  return v;
}

const steps: Step[] = [];
let lastBeat = 0;

/** After a step: the guest runs at `p`, its heartbeat continuing from before. */
async function checkRunsAt(p: Place): Promise<void> {
  const beats = await waitForBeatAbove(p.host, NAME, lastBeat);
  const after = beats.filter((b) => b > lastBeat);
  if (!continuous(after)) throw new Error(`heartbeat not continuous on ${p.label}: ${after.join(',')}`);
  lastBeat = after.at(-1)!;
}

/** Target dirs for -q, on any host here: the next is one the disk is not in. */
let targetDirs: string[] = [];

/** Returns where the guest runs afterwards. */
async function migrate(from: Place, to: Place, kind: string, args: string[], target: string): Promise<Place> {
  const disk = (await view(from)).config.disks[0]!.target!;
  const q = kind.endsWith('-q')
    ? ['-q', '--target-dir', targetDirs.find((d) => d !== path.dirname(disk))!]
    : [];
  const t0 = performance.now();
  const r = await xlIn(from.ns, [
    '--state-dir',
    from.host.stateDir,
    'migrate',
    '--json',
    ...q,
    ...args,
    NAME,
    target,
  ]);
  const events = r.stdout.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  const summary = events.find((e) => e.event === 'summary');
  // The disks' bytes: the mirror phase's last progress figure.
  const diskBytes = Math.max(
    0,
    ...events.filter((e) => e.event === 'progress' && e.phase === 'mirror').map((e) => Number(e.bytes) || 0),
  );
  const ok = r.exitCode === 0;
  const num = (k: string) => (typeof summary?.[k] === 'number' ? (summary[k] as number) : 0);
  steps.push({
    kind,
    ok,
    seconds: (performance.now() - t0) / 1000,
    bytes: num('ramBytes') + diskBytes,
    downtimeMs: num('downtimeMs'),
    pausedMs: num('pausedMs'),
    rssMiB: r.rssMiB,
    ...(ok ? {} : { error: r.stderr.trim().split('\n').at(-1) }),
  });
  if (!ok) {
    console.log(`  ${kind}: FAILED: ${r.stderr.trim().split('\n').at(-1)}`);
    await checkRunsAt(from);
    return from;
  }
  await checkRunsAt(to);
  // -q moved the disk: the source's old image is the soak's to remove (the next -q may target it).
  if (q.length > 0) await rm(disk, { force: true });
  return to;
}

async function saveRestore(p: Place, dir: string): Promise<void> {
  const file = path.join(dir, 'soak.save');
  const t0 = performance.now();
  const s = await xlIn(p.ns, ['--state-dir', p.host.stateDir, 'save', NAME, file]);
  const r = s.exitCode === 0 ? await xlIn(p.ns, ['--state-dir', p.host.stateDir, 'restore', file]) : s;
  const ok = s.exitCode === 0 && r.exitCode === 0;
  steps.push({
    kind: 'save+restore',
    ok,
    seconds: (performance.now() - t0) / 1000,
    bytes: 0,
    downtimeMs: 0,
    pausedMs: 0,
    rssMiB: Math.max(s.rssMiB, r.rssMiB),
    ...(ok ? {} : { error: (r.stderr || s.stderr).trim().split('\n').at(-1) }),
  });
  await rm(file, { force: true });
  await checkRunsAt(p);
}

async function main(): Promise<void> {
  const pair = await createHostPair();
  const na = xlHost('soak-a-');
  const na2 = xlHost('soak-a2-');
  const nb = xlHost('soak-b-');
  const A: Place = { label: 'A', host: na, ns: pair.a };
  const A2: Place = { label: 'A (second state dir)', host: na2, ns: pair.a };
  const B: Place = { label: 'B', host: nb, ns: pair.b };
  targetDirs = [na, na2, nb].map((h) => path.join(h.dir, 'disks'));
  for (const d of targetDirs) await mkdir(d);
  const sshdA = await startSshd(pair.a, { env: { XL_STATE_DIR: na.stateDir }, commands: { xl: XL } });
  const sshdB = await startSshd(pair.b, { env: { XL_STATE_DIR: nb.stateDir }, commands: { xl: XL } });
  await waitForSsh(pair.b, sshdA, pair.a.address);
  await waitForSsh(pair.a, sshdB, pair.b.address);
  const src = await bootWriter(
    na,
    NAME,
    [{ vdev: 'xvda', format: 'raw', sizeMiB: 64 }],
    16,
    undefined,
    pair.a,
    // A steady RAM workload a loaded 2-core host still migrates in pre-copy.
    ramcheckWorkload(16, 4),
  );
  lastBeat = src.beat;
  const local = (to: XlHost) => `node ${XL} --state-dir ${to.stateDir} migrate-receive`;
  const deadline = Date.now() + minutes * 60_000;
  let round = 0;
  let here = A;
  const started = Date.now();
  while (Date.now() < deadline) {
    round++;
    const direct = round % 2 === 0 ? ['--transport', 'direct'] : [];
    // Each hop starts wherever the guest is (a failed one left it where it was).
    const hop = (to: Place, kind: string, args: string[], target: string) =>
      here === to ? Promise.resolve(here) : migrate(here, to, kind, args, target);
    here = await hop(A2, 'same host', [...direct, '-s', ''], local(na2));
    here = await hop(A, 'same host -q', ['-s', ''], local(na));
    here = await hop(B, 'netns ssh', [...direct, '-s', sshdB.sshCommand], pair.b.address);
    here = await hop(A, 'netns ssh -q', [...direct, '-s', sshdA.sshCommand], pair.a.address);
    await saveRestore(here, here.host.dir);
    const failures = steps.filter((s) => !s.ok).length;
    console.log(
      `round ${round} (${Math.round((Date.now() - started) / 1000)} s): ${steps.length} steps, ${failures} failed, heartbeat ${lastBeat}`,
    );
  }
  const verify = await guestVerify(here.host, NAME);
  const ram = ramcheckLog((await here.host.xl('console', NAME)).stdout);
  report(verify, ram.passes.length, ram.bad.length + ram.fails.length, minutes);
}

function report(verify: string, ramPasses: number, ramBad: number, mins: number): void {
  const migrations = steps.filter((s) => s.kind !== 'save+restore');
  const failures = steps.filter((s) => !s.ok);
  const gib = migrations.reduce((n, s) => n + s.bytes, 0) / 2 ** 30;
  const max = (k: 'downtimeMs' | 'pausedMs') =>
    Math.max(0, ...migrations.filter((s) => s.ok).map((s) => s[k]));
  console.log(
    `\nsoak: ${mins} min, ${migrations.length} migrations, ${steps.length - migrations.length} save+restore`,
  );
  console.log(`failures: ${failures.length}${failures.map((f) => `\n  ${f.kind}: ${f.error}`).join('')}`);
  console.log(`bytes moved (RAM + disk): ${gib.toFixed(2)} GiB`);
  console.log(`max downtime (QEMU): ${max('downtimeMs')} ms; max guest pause: ${max('pausedMs')} ms`);
  console.log(`disk: ${verify}; RAM checker: ${ramPasses} generations verified, ${ramBad} bad`);
  console.log('sending xl peak RSS (MiB) per kind, first half vs second half of the run:');
  let grew = false;
  for (const kind of [...new Set(steps.map((s) => s.kind))]) {
    const rss = steps.filter((s) => s.kind === kind).map((s) => s.rssMiB);
    const half = Math.floor(rss.length / 2);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const [first, second] = [mean(rss.slice(0, Math.max(1, half))), mean(rss.slice(half))];
    const growth = first > 0 ? second / first : 1;
    if (growth > 1.2) grew = true;
    console.log(
      `  ${kind}: ${first.toFixed(1)} -> ${second.toFixed(1)} (x${growth.toFixed(2)}, n=${rss.length})`,
    );
  }
  const ok = failures.length === 0 && /^xlkit-disk-verify ok/.test(verify) && ramBad === 0 && !grew;
  console.log(ok ? 'soak: OK' : 'soak: FAILED');
  process.exitCode = ok ? 0 : 1;
}

const stop = () => {
  void cleanupAll().finally(() => process.exit(130));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
try {
  await main();
} catch (err) {
  console.error(`soak: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
  await sleep(0);
}
