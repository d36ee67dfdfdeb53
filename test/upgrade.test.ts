// End to end: `xl upgrade` moves running guests from the system's QEMU 7.2 to the QEMU 10.0
// tools/setup unpacked into .cache/qemu-next/ (real QEMU, TCG), with the guest's RAM kept in
// place when it is shared, and the failure cases: before the new QEMU ran the source goes on
// untouched; after it ran on the shared RAM the source is never resumed.
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { QmpClient, queryVersion } from '@xlkit/qmp';
import { isProcessAlive, type DomainRecord, type DomainView } from '@xlkit/xl';
import { cleanupAfterEach, createDiskImage, ramDumps, tempDir } from './helpers/index.js';
import { nextQemu } from './helpers/qemu-next.js';
import { bootSource, expectSourceIntact } from './migrate-checks.js';
import { guestVerify } from './migrate-q-rig.js';
import {
  continuous,
  guestConfig,
  onJsonLines,
  records,
  startMigrate,
  waitForBeatAbove,
  XL,
  xlHost,
  sameHostReceiver,
  type Run,
  type XlHost,
} from './xl-rig.js';

cleanupAfterEach();

const SHARED = { memory_backing: '"shared"' };

async function upgrade(host: XlHost, args: string[], env: Record<string, string> = {}) {
  const events: Record<string, unknown>[] = [];
  const child = execa('node', [XL, '--state-dir', host.stateDir, 'upgrade', '--json', ...args], {
    reject: false,
    stdin: 'ignore',
    timeout: 180_000,
    env,
  });
  onJsonLines(child.stdout!, (ev) => events.push(ev));
  const r = await child;
  const run: Run = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  return { ...run, events, summaries: events.filter((e) => e.event === 'summary') };
}

function only(host: XlHost, name: string): DomainRecord {
  const all = records(host.stateDir);
  expect(all.map((r) => r.name)).toEqual([name]);
  return all[0]!;
}

/** The one `xl: ` line of a failed command. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('xl: '));
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

/** "QEMU emulator version 10.0.2 (...)" -> "10.0.2" */
const versionOf = (text: string): string => /version (\d+\.\d+\.\d+)/.exec(text)![1]!;

describe('xl upgrade (real QEMU)', () => {
  it('moves a running guest with shared RAM to the new QEMU: same guest, new process, RAM left in place', async () => {
    const next = nextQemu();
    const a = xlHost('upg-');
    const disk = await createDiskImage(a.dir, 'u1.raw', 32, 'raw');
    const { pid, beat } = await bootSource(a, 'u1', {
      ...SHARED,
      disk: `[ "${disk},raw,xvda,rw" ]`,
      extra: '"console=ttyS0 quiet xlkit.disk=write xlkit.diskmb=16"',
    });
    const before = only(a, 'u1');
    const ramFile = before.ramFile!.path;
    expect(ramFile).toMatch(/^\/dev\/shm\/xlkit-ram-[0-9a-f]{32}$/);
    expect(existsSync(ramFile)).toBe(true);
    const dumps = ramDumps('upg-ram-');

    const r = await upgrade(a, ['--device-model', next.binary, 'u1'], dumps.env);
    expect(r.exitCode, r.stderr).toBe(0);
    // Both QEMUs' view of the guest's RAM at the switch-over: the new one maps the very pages.
    await dumps.expectIdentical();
    const summary = r.summaries.at(-1)!;
    expect(summary).toMatchObject({ result: 'ok', domain: 'u1', sharedRam: true, operation: 'upgrade' });
    // 128 MiB of guest, and only device state and ROMs crossed the socket.
    expect(summary.streamBytes as number).toBeLessThan(4 << 20);
    expect(summary.downtimeMs as number).toBeGreaterThanOrEqual(0);

    const after = only(a, 'u1');
    expect(after.uuid).toBe(before.uuid);
    expect(after.ramFile).toEqual({ path: ramFile, owner: true });
    const newPid = after.qemu!.pid;
    expect(newPid).not.toBe(pid);
    expect(isProcessAlive(pid)).toBe(false);
    expect(realpathSync(`/proc/${newPid}/exe`)).toBe(realpathSync(next.binary));
    const qmp = await QmpClient.connect(path.join(a.stateDir, 'domains', String(after.id), 'qmp.sock'));
    try {
      const v = (await queryVersion(qmp)).qemu;
      expect(`${v.major}.${v.minor}.${v.micro}`).toBe(versionOf(next.version));
    } finally {
      await qmp.close();
    }
    const [view] = JSON.parse((await a.xl('list', '-l', 'u1')).stdout) as DomainView[];
    expect(view!.qemu).toMatchObject({ binary: next.binary, version: versionOf(next.version) });

    const beats = await waitForBeatAbove(a, 'u1', beat + 5);
    expect(continuous(beats)).toBe(true);
    // The console still takes input (the verify command) and the disk pattern survived.
    expect(await guestVerify(a, 'u1')).toMatch(/^xlkit-disk-verify ok \d+$/);
    expect((await a.xl('destroy', 'u1')).exitCode).toBe(0);
    expect(existsSync(ramFile)).toBe(false);
  }, 300_000);

  it('upgrades a guest without shared RAM by copying it', async () => {
    const next = nextQemu();
    const a = xlHost('upg-');
    const { pid, beat } = await bootSource(a, 'u2');
    const r = await upgrade(a, ['--device-model', next.binary, 'u2']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.summaries.at(-1)).toMatchObject({ result: 'ok', sharedRam: false });
    expect(r.summaries.at(-1)!.streamBytes as number).toBeGreaterThan(4 << 20);
    const after = only(a, 'u2');
    expect(after.ramFile).toBeUndefined();
    expect(after.qemu!.pid).not.toBe(pid);
    expect(realpathSync(`/proc/${after.qemu!.pid}/exe`)).toBe(realpathSync(next.binary));
    expect(continuous(await waitForBeatAbove(a, 'u2', beat + 5))).toBe(true);
  });

  it('refuses a binary without the machine type, a missing binary and a domain mid-migration, touching nothing', async () => {
    const a = xlHost('upg-');
    const b = xlHost('upg-b-');
    const { pid, beat } = await bootSource(a, 'u3', SHARED);
    // The microvm build of QEMU has no pc-i440fx machine at all.
    const microvm = await upgrade(a, ['--device-model', '/usr/bin/qemu-system-x86_64-microvm', 'u3']);
    expect(microvm.exitCode).toBe(1);
    expect(oneLine(microvm.stderr)).toMatch(
      /cannot take the domain over: it has no machine type pc-i440fx-7\.2$/,
    );
    const missing = await upgrade(a, ['--device-model', '/nonexistent/qemu-system-x86_64', 'u3']);
    expect(missing.exitCode).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/no executable file there$/);

    // A migration holding still before its GO: the domain is 'migrating'.
    const migration = startMigrate(a, ['--json', '-s', '', 'u3', sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'sender-stall:before-go' },
    });
    await new Promise<void>((resolve) =>
      onJsonLines(migration.stdout!, (ev) => ev.event === 'stalled-before-go' && resolve()),
    );
    const busy = await upgrade(a, ['--device-model', nextQemu().binary, 'u3']);
    expect(busy.exitCode).toBe(1);
    expect(oneLine(busy.stderr)).toMatch(
      /domain 'u3' is migrating; only a running or paused domain can be upgraded/,
    );
    migration.kill('SIGINT');
    expect((await migration).exitCode).toBe(1);

    await expectSourceIntact(a, 'u3', pid, beat);
    expect(only(a, 'u3').qemu!.pid).toBe(pid);
    expect(a.watcher.liveQemus()).toEqual([pid]);
  });

  it('new QEMU killed before the switch-over: the source runs on as it was, nothing left behind', async () => {
    const a = xlHost('upg-');
    const { pid, beat } = await bootSource(a, 'u4', SHARED);
    const ramFile = only(a, 'u4').ramFile!.path;
    const r = await upgrade(a, ['--device-model', nextQemu().binary, 'u4'], {
      XLKIT_FAULT: 'upgrade-kill:started',
    });
    expect(r.exitCode).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/the domain 'u4' still runs on this host$/);
    await expectSourceIntact(a, 'u4', pid, beat);
    expect(only(a, 'u4').ramFile).toEqual({ path: ramFile, owner: true });
    expect(existsSync(ramFile)).toBe(true);
    expect(a.watcher.liveQemus()).toEqual([pid]);
  });

  it('new QEMU killed after it ran on the shared RAM: the source is never resumed, the domain restarts per on_crash', async () => {
    const a = xlHost('upg-');
    const { pid, beat } = await bootSource(a, 'u5', { ...SHARED, on_crash: '"restart"' });
    const oldRam = only(a, 'u5').ramFile!.path;
    const r = await upgrade(a, ['--device-model', nextQemu().binary, 'u5'], {
      XLKIT_FAULT: 'upgrade-kill:ran',
    });
    expect(r.exitCode).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toMatch(/UPGRADE FAILED AFTER THE NEW QEMU RAN/);
    expect(line).toMatch(
      /its old QEMU shares the RAM the new one changed and was not resumed; on_crash=restart: it was booted afresh as id \d+$/,
    );
    expect(isProcessAlive(pid)).toBe(false);
    const fresh = only(a, 'u5');
    expect(fresh.status).toBe('running');
    expect(fresh.ramFile!.path).not.toBe(oldRam);
    expect(existsSync(oldRam)).toBe(false);
    // A fresh boot: its heartbeat starts over.
    const beats = await waitForBeatAbove(a, 'u5', 2);
    expect(beats[0]!).toBeLessThan(beat);
    expect(a.watcher.liveQemus()).toEqual([fresh.qemu!.pid]);
  });

  it('upgrades four domains at once, all in flight together, all complete', async () => {
    const next = nextQemu();
    const a = xlHost('upg-');
    const names = ['w1', 'w2', 'w3', 'w4'];
    // Created, not waited for: a guest still booting moves as well, and four TCG boots on two
    // loaded cores would take minutes before the part under test even starts.
    for (const n of names) {
      const created = await a.xl('create', await guestConfig(a.dir, n, SHARED));
      expect(created.exitCode, created.stderr).toBe(0);
    }
    const before = new Map(records(a.stateDir).map((d) => [d.name, d.qemu!.pid]));
    const barrier = tempDir('upg-barrier-');
    mkdirSync(barrier, { recursive: true });
    // Each upgrade waits before its GO until all four got there: a lock one of them held across
    // its migration would hang the others, and the barrier would time out.
    const r = await upgrade(a, ['--device-model', next.binary, '--all'], {
      XLKIT_FAULT: `upgrade-barrier:4@${barrier}`,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.summaries.map((s) => [s.domain, s.result]).sort()).toEqual(names.map((n) => [n, 'ok']));
    expect(r.events.filter((e) => e.event === 'barrier')).toHaveLength(4);
    for (const n of names) {
      const rec = records(a.stateDir).find((d) => d.name === n)!;
      expect(rec.qemu!.pid).not.toBe(before.get(n));
      expect(isProcessAlive(before.get(n)!)).toBe(false);
      expect(realpathSync(`/proc/${rec.qemu!.pid}/exe`)).toBe(realpathSync(next.binary));
    }
    // Every guest lives on in its new QEMU.
    for (const n of names) expect(continuous(await waitForBeatAbove(a, n, 2))).toBe(true);
  }, 600_000);
});
