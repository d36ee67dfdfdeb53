/**
 * `npm run bench -- peers [--4g]`: xl side by side with the tools a user would use instead,
 * whole commands timed by wall clock.
 *
 * One guest per tool, each the project's test guest (1 vCPU, TCG) with 1 GiB of RAM, 800 MiB
 * of it random data (`--4g`: 4 GiB, 3276 MiB random):
 *   - virsh: Debian's libvirt 9.0 (installed when missing; its daemons started and stopped
 *     here when none runs), the domain defined from equivalent XML;
 *   - xl: this repo's `xl`;
 *   - qemu: QEMU's own path over QMP, the floor (`migrate exec:cat > FILE`, `migrate-incoming
 *     exec:cat FILE` into a QEMU started with xl's argv).
 * save: `virsh save D F && sync F` | `xl save D F` (fsyncs F itself) | stop + migrate + fsync.
 *   A fourth save row, `disk`, is the floor no tool can beat: `dd bs=4M conv=fsync` of a file as
 *   big as a save (read from the page cache) into a new file beside the others.
 * restore: `virsh restore F` | `xl restore F` | QEMU start + migrate-incoming + cont. Each save
 * ends with no guest left running (virsh and xl destroy it; the raw QEMU is killed untimed).
 * Rounds alternate the order of the tools; every file is removed once restored. Goals:
 * xl save >= 3x faster than virsh save, xl restore >= 2x faster than virsh restore (medians).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LibvirtDaemons, domainXml, ensureLibvirt, virsh } from './libvirt-host.js';
import { bar, writeBenchChart } from './bench-chart.js';
import { median } from './median.js';
import { killQuietly, rawRestore, rawResume, rawSave } from './raw-qemu.js';
import { ROOT, benchGuestConfig, XL, waitForLine, xl } from './xl-cli.js';

const BIG = process.argv.includes('--4g');
const MEMORY_MIB = BIG ? 4096 : 1024;
const FILL_MIB = BIG ? 3276 : 800;
const REPS = Math.max(2, Number(process.env.XLKIT_BENCH_REPS ?? 5));
const GOALS = { save: 3, restore: 2 };
const TOOLS = ['xl', 'virsh', 'qemu'] as const;
type Tool = (typeof TOOLS)[number];
/** Save is also measured against the disk itself (see above); restore has no such floor. */
const SAVE_ROWS = [...TOOLS, 'disk'] as const;
type SaveRow = (typeof SAVE_ROWS)[number];
type Runs = { save: Record<SaveRow, number[]>; restore: Record<Tool, number[]> };

/** Wall-clock seconds of one command, run to its exit; throws with its stderr on failure. */
function timed(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve((performance.now() - t0) / 1000)
        : reject(new Error(`${cmd} ${args.join(' ')} failed (${String(code)}): ${stderr.trim()}`)),
    );
  });
}

interface XlRecord {
  qemu: { pid: number; argv: string[]; binary: string };
}

export async function benchPeers(): Promise<void> {
  ensureLibvirt();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-bench-peers-'));
  // libvirt's QEMU runs as libvirt-qemu: it must reach the kernel and initramfs.
  chmodSync(dir, 0o755);
  const guest = path.join(ROOT, '.cache', 'guest');
  const kernel = path.join(dir, 'vmlinuz');
  const initrd = path.join(dir, 'initramfs.cpio.gz');
  copyFileSync(path.join(guest, 'vmlinuz'), kernel);
  copyFileSync(path.join(guest, 'initramfs.cpio.gz'), initrd);
  chmodSync(kernel, 0o644);
  chmodSync(initrd, 0o644);
  const cmdline = `console=ttyS0 quiet xlkit.fill=${FILL_MIB}`;
  const stateDir = path.join(dir, 's');
  const vname = `xlkit-peers-${process.pid}`;
  const daemons = await LibvirtDaemons.start();
  let rawPid: number | undefined;
  const xlPids: number[] = [];
  try {
    console.log(
      `peers: ${MEMORY_MIB} MiB guests, ${FILL_MIB} MiB random each (TCG); libvirt daemons ${daemons.startedAny ? 'started here' : 'already running'}`,
    );
    // Booting both guests at once: each fills its RAM under TCG, which takes a while.
    const xmlFile = path.join(dir, 'virsh.xml');
    const vconsole = path.join(dir, 'virsh-console.log');
    await writeFile(
      xmlFile,
      domainXml({ name: vname, memoryMiB: MEMORY_MIB, kernel, initrd, cmdline, console: vconsole }),
    );
    virsh('create', xmlFile);
    const cfg = path.join(dir, 'peers.cfg');
    await writeFile(
      cfg,
      benchGuestConfig({
        name: 'peers',
        memoryMiB: MEMORY_MIB,
        workload: `xlkit.fill=${FILL_MIB}`,
        kernel,
        ramdisk: initrd,
      }),
    );
    await xl(stateDir, 'create', cfg);
    const domainDir = path.join(stateDir, 'domains', '1');
    const record = JSON.parse(readFileSync(path.join(domainDir, 'domain.json'), 'utf8')) as XlRecord;
    xlPids.push(record.qemu.pid);
    await waitForLine(path.join(domainDir, 'console.log'), /xlkit-fill done/, 60 * 60_000);
    await waitForLine(vconsole, /xlkit-fill done/, 60 * 60_000);
    // The raw path's guest: the xl guest's RAM copied into a QEMU of its own (untimed).
    const seed = path.join(dir, 'seed.qemu');
    await rawSave(path.join(domainDir, 'qmp.sock'), seed);
    await rawResume(path.join(domainDir, 'qmp.sock'));
    const rawDir = path.join(dir, 'raw');
    let raw = await rawRestore(record.qemu, domainDir, rawDir, seed, true);
    rawPid = raw.pid;
    // The seed stays as the disk floor's source: a file as big as every save, in the page cache.
    console.log('peers: guests filled; timing');

    const runs: Runs = {
      save: { virsh: [], xl: [], qemu: [], disk: [] },
      restore: { virsh: [], xl: [], qemu: [] },
    };
    const file = (t: SaveRow) => path.join(dir, `${t}.save`);
    const save: Record<SaveRow, () => Promise<number>> = {
      virsh: async () => {
        const t0 = performance.now();
        virsh('save', vname, file('virsh'));
        execFileSync('sync', [file('virsh')]);
        return (performance.now() - t0) / 1000;
      },
      xl: () => timed(process.execPath, [XL, '--state-dir', stateDir, 'save', 'peers', file('xl')]),
      qemu: async () => {
        const r = await rawSave(raw.qmpPath, file('qemu'), true);
        killQuietly(raw.pid);
        return r.seconds;
      },
      disk: async () => {
        const s = await timed('dd', [
          `if=${seed}`,
          `of=${file('disk')}`,
          'bs=4M',
          'conv=fsync',
          'status=none',
        ]);
        rmSync(file('disk'));
        return s;
      },
    };
    const restore: Record<Tool, () => Promise<number>> = {
      virsh: () => timed('virsh', ['-c', 'qemu:///system', 'restore', file('virsh')]),
      xl: () => timed(process.execPath, [XL, '--state-dir', stateDir, 'restore', file('xl')]),
      qemu: async () => {
        raw = await rawRestore(record.qemu, domainDir, rawDir, file('qemu'), true);
        rawPid = raw.pid;
        return raw.seconds;
      },
    };
    // virsh save is timed through execFileSync: the same wall clock, with node's own spawn in it.
    for (let round = 0; round < REPS; round++) {
      const forward = round % 2 === 0;
      const order = forward ? [...TOOLS] : [...TOOLS].reverse();
      const saveOrder = forward ? [...SAVE_ROWS] : [...SAVE_ROWS].reverse();
      for (const t of saveOrder) runs.save[t].push(await save[t]());
      for (const t of order) {
        runs.restore[t].push(await restore[t]());
        rmSync(file(t));
      }
      const last = (op: keyof Runs, rows: readonly SaveRow[]) =>
        `${op} ${rows.map((t) => `${t} ${(runs[op] as Record<SaveRow, number[]>)[t].at(-1)?.toFixed(2)}`).join(', ')}`;
      console.log(`round ${round + 1}/${REPS}: ${last('save', saveOrder)}; ${last('restore', order)}`);
    }
    report(runs);
  } finally {
    try {
      virsh('destroy', vname);
    } catch {
      // Not running.
    }
    killQuietly(rawPid);
    for (const id of existsSync(path.join(stateDir, 'domains'))
      ? readdirSync(path.join(stateDir, 'domains'))
      : []) {
      try {
        const r = JSON.parse(
          readFileSync(path.join(stateDir, 'domains', id, 'domain.json'), 'utf8'),
        ) as XlRecord;
        xlPids.push(r.qemu.pid);
      } catch {
        // No record.
      }
    }
    for (const pid of xlPids) killQuietly(pid);
    await daemons.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(runs: Runs): void {
  const name = BIG ? 'peers-4g' : 'peers';
  const rows = { save: SAVE_ROWS, restore: TOOLS } as const;
  const of = (op: keyof Runs, t: SaveRow): number[] => (runs[op] as Record<SaveRow, number[]>)[t];
  console.log(`command: npm run bench -- peers${BIG ? ' --4g' : ''} (XLKIT_BENCH_REPS=${REPS})`);
  console.log(`guest: ${MEMORY_MIB} MiB RAM, ${FILL_MIB} MiB random; wall clock of whole commands, seconds`);
  console.log('| operation | tool | best | median | all runs |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const op of ['save', 'restore'] as const)
    for (const t of rows[op]) {
      const r = of(op, t);
      console.log(
        `| ${op} | ${t} | ${Math.min(...r).toFixed(2)} | ${median(r).toFixed(2)} | ${r.map((s) => s.toFixed(2)).join(', ')} |`,
      );
    }
  for (const op of ['save', 'restore'] as const) {
    const m = median(runs[op].virsh) / median(runs[op].xl);
    const b = Math.min(...runs[op].virsh) / Math.min(...runs[op].xl);
    console.log(
      `${op}: xl is ${m.toFixed(2)}x faster than virsh on medians (${b.toFixed(2)}x on bests); goal >= ${GOALS[op]}x: ${m >= GOALS[op] ? 'met' : 'NOT met'}`,
    );
  }
  // Whether the save goal is reachable at all on this disk: a save cannot beat writing its bytes.
  const floor = median(runs.save.disk);
  const needed = median(runs.save.virsh) / GOALS.save;
  console.log(
    `save: the disk floor is ${floor.toFixed(2)} s (median); xl takes ${(median(runs.save.xl) / floor).toFixed(2)}x of it; ` +
      `${GOALS.save}x faster than virsh needs ${needed.toFixed(2)} s, ${needed < floor ? 'below the floor: out of reach on this disk' : 'above the floor'}`,
  );
  const chart = writeBenchChart(
    name,
    `xl vs virsh vs QEMU: save and restore of a ${MEMORY_MIB / 1024} GiB guest (${FILL_MIB} MiB random)`,
    'seconds, whole command (lower is better)',
    (['save', 'restore'] as const).map((op) => ({ label: op, bars: rows[op].map((t) => bar(t, of(op, t))) })),
  );
  console.log(`chart: ${path.relative(ROOT, chart)}`);
}
