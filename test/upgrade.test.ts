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
import {
  cleanupAfterEach,
  createBridgedHosts,
  createDiskImage,
  masterOf,
  pingFlood,
  ramDumps,
  tempDir,
  waitForPing,
  type NetnsHost,
} from './helpers/index.js';
import { nextQemu } from './helpers/qemu-next.js';
import { bootSource, expectSourceIntact } from './migrate-checks.js';
import { guestVerify } from './migrate-q-rig.js';
import {
  BOOT_TIMEOUT_MS,
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

async function upgrade(host: XlHost, args: string[], env: Record<string, string> = {}, netns?: NetnsHost) {
  const events: Record<string, unknown>[] = [];
  const argv = ['node', XL, '--state-dir', host.stateDir, 'upgrade', '--json', ...args];
  const [file, ...rest] = netns ? netns.wrap(argv) : argv;
  const child = execa(file!, rest, {
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

const PING_INTERVAL_MS = 50;

/** "QEMU emulator version 10.0.2 (...)" -> "10.0.2" */
const versionOf = (text: string): string => /version (\d+\.\d+\.\d+)/.exec(text)![1]!;

describe('xl upgrade (real QEMU)', () => {
  // One guest through the whole shared-RAM story (each step starts from where the last left
  // it): refusals and a new QEMU killed before the switch-over leave it as it was; then it
  // moves to the new QEMU; then a move whose new QEMU is killed after it ran crashes it.
  it('shared RAM: refusals and an early kill leave the source as it was; the move keeps RAM in place; a kill after the new QEMU ran restarts the domain per on_crash', async () => {
    const next = nextQemu();
    const a = xlHost('upg-');
    const b = xlHost('upg-b-');
    const disk = await createDiskImage(a.dir, 'u1.raw', 32, 'raw');
    const { pid, beat } = await bootSource(a, 'u1', {
      ...SHARED,
      on_crash: '"restart"',
      disk: `[ "${disk},raw,xvda,rw" ]`,
      extra: '"console=ttyS0 quiet xlkit.disk=write xlkit.diskmb=16"',
    });
    const before = only(a, 'u1');
    const ramFile = before.ramFile!.path;
    expect(ramFile).toMatch(/^\/dev\/shm\/xlkit-ram-[0-9a-f]{32}$/);
    expect(existsSync(ramFile)).toBe(true);

    // Refusals: the microvm build of QEMU has no pc-i440fx machine at all; a missing binary.
    const microvm = await upgrade(a, ['--device-model', '/usr/bin/qemu-system-x86_64-microvm', 'u1']);
    expect(microvm.exitCode).toBe(1);
    expect(oneLine(microvm.stderr)).toMatch(
      /cannot take the domain over: it has no machine type pc-i440fx-7\.2$/,
    );
    const missing = await upgrade(a, ['--device-model', '/nonexistent/qemu-system-x86_64', 'u1']);
    expect(missing.exitCode).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/no executable file there$/);
    // A migration holding still before its GO: the domain is 'migrating'.
    const migration = startMigrate(a, ['--json', '-s', '', 'u1', sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'sender-stall:before-go' },
    });
    await new Promise<void>((resolve) =>
      onJsonLines(migration.stdout!, (ev) => ev.event === 'stalled-before-go' && resolve()),
    );
    const busy = await upgrade(a, ['--device-model', next.binary, 'u1']);
    expect(busy.exitCode).toBe(1);
    expect(oneLine(busy.stderr)).toMatch(
      /domain 'u1' is migrating; only a running or paused domain can be upgraded/,
    );
    migration.kill('SIGINT');
    expect((await migration).exitCode).toBe(1);
    await expectSourceIntact(a, 'u1', pid, beat);

    // The new QEMU killed before the switch-over: the source runs on, nothing left behind.
    const early = await upgrade(a, ['--device-model', next.binary, 'u1'], {
      XLKIT_FAULT: 'upgrade-kill:started',
    });
    expect(early.exitCode).toBe(1);
    // Said as an upgrade, between two QEMUs on this host (not a migration to a host "reached as").
    expect(oneLine(early.stderr)).toMatch(
      /^xl: upgrade to QEMU \d+\.\d+\.\d+ failed in \w+: .*; the domain 'u1' still runs on QEMU 7\.2\.\d+$/,
    );
    await expectSourceIntact(a, 'u1', pid, beat);
    expect(only(a, 'u1')).toMatchObject({ id: before.id, ramFile: { path: ramFile, owner: true } });
    expect(existsSync(ramFile)).toBe(true);
    expect(a.watcher.liveQemus()).toEqual([pid]);
    const beatNow = (await waitForBeatAbove(a, 'u1', beat)).at(-1)!;

    // The move: same guest, new process, RAM left in place.
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
    // The switch-over's steps, in order, from the old QEMU's stop to the new one's cont.
    const steps = summary.steps as Record<string, number>;
    expect(steps.sent).toBeLessThanOrEqual(steps.go!);
    expect(steps.loaded).toBeLessThanOrEqual(steps.go!);
    expect(steps.go).toBeLessThanOrEqual(steps.resumed!);
    expect(summary.pausedMs).toBe(steps.resumed);

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
    const beats = await waitForBeatAbove(a, 'u1', beatNow + 5);
    expect(continuous(beats)).toBe(true);
    // The console still takes input (the verify command) and the disk pattern survived.
    expect(await guestVerify(a, 'u1')).toMatch(/^xlkit-disk-verify ok \d+$/);

    // Moved again (10.0 to 10.0), the new QEMU killed once it ran on the shared RAM: the
    // source is never resumed, and on_crash = "restart" boots the domain afresh.
    const late = await upgrade(a, ['--device-model', next.binary, 'u1'], { XLKIT_FAULT: 'upgrade-kill:ran' });
    expect(late.exitCode).toBe(1);
    const line = oneLine(late.stderr);
    expect(line).toMatch(/UPGRADE FAILED AFTER THE NEW QEMU RAN/);
    expect(line).toMatch(
      /its old QEMU shares the RAM the new one changed and was not resumed; on_crash=restart: it was booted afresh as id \d+$/,
    );
    expect(isProcessAlive(newPid)).toBe(false);
    const fresh = only(a, 'u1');
    expect(fresh.status).toBe('running');
    expect(fresh.ramFile!.path).not.toBe(ramFile);
    expect(existsSync(ramFile)).toBe(false);
    // A fresh boot: its heartbeat starts over.
    const restarted = await waitForBeatAbove(a, 'u1', 2);
    expect(restarted[0]!).toBeLessThan(beats.at(-1)!);
    expect(a.watcher.liveQemus()).toEqual([fresh.qemu!.pid]);
    expect((await a.xl('destroy', 'u1')).exitCode).toBe(0);
    expect(existsSync(fresh.ramFile!.path)).toBe(false);
  }, 600_000);

  it('upgrades a bridged guest without shared RAM by copying it: a tap of its own on the bridge, pings go on', async () => {
    const next = nextQemu();
    const net = await createBridgedHosts();
    const a = xlHost('upg-br-');
    const guestIp = net.a.address.replace(/\.1$/, '.10');
    const cfg = await guestConfig(a.dir, 'u2', {
      extra: `"console=ttyS0 quiet xlkit.ip=${guestIp}/${net.prefixLength}"`,
      vif: `[ 'bridge=${net.bridge}, model=virtio' ]`,
    });
    // xl runs in host A's namespace, where the bridge is.
    const xlA = (...args: string[]) =>
      net.a.exec(['node', XL, '--state-dir', a.stateDir, ...args], { reject: false });
    const created = await xlA('create', cfg);
    expect(created.exitCode, String(created.stderr)).toBe(0);
    const source = only(a, 'u2');
    const oldTap = `vif${source.id}.0`;
    expect(await masterOf(net.a, oldTap)).toBe(net.bridge);
    const beat = (await waitForBeatAbove(a, 'u2', 2)).at(-1)!;
    await waitForPing(net.client, guestIp, BOOT_TIMEOUT_MS);
    const flood = pingFlood(net.client, guestIp, PING_INTERVAL_MS);
    await flood.waitForMore(10);

    const r = await upgrade(a, ['--device-model', next.binary, 'u2'], {}, net.a);
    expect(r.exitCode, r.stderr).toBe(0);
    const summary = r.summaries.at(-1)!;
    expect(summary).toMatchObject({ result: 'ok', sharedRam: false });
    expect(summary.streamBytes as number).toBeGreaterThan(4 << 20);
    await flood.waitForMore(20);
    const { answered, lost } = await flood.stop();
    const pausedMs = summary.pausedMs as number;
    console.log(
      `bridged upgrade: ${answered.length} pings answered, ${lost.length} lost, guest paused ${pausedMs} ms`,
    );
    // Only pings sent while the guest was paused (and a little slack) go unanswered: the new
    // QEMU's tap is on the bridge and the guest was announced from there.
    expect(lost.length).toBeLessThanOrEqual(Math.ceil(pausedMs / PING_INTERVAL_MS) + 10);

    const after = only(a, 'u2');
    expect(after.ramFile).toBeUndefined();
    expect(after.qemu!.pid).not.toBe(source.qemu!.pid);
    expect(realpathSync(`/proc/${after.qemu!.pid}/exe`)).toBe(realpathSync(next.binary));
    expect(after.config.vifs[0]!.mac).toBe(source.config.vifs[0]!.mac);
    // The old tap went with the old QEMU; the new one is on the bridge, and goes on destroy.
    const newTap = `vif${after.id}.0`;
    expect(after.taps).toEqual([{ name: newTap, bridge: net.bridge, mac: source.config.vifs[0]!.mac }]);
    expect(await masterOf(net.a, oldTap)).toBeUndefined();
    expect(await masterOf(net.a, newTap)).toBe(net.bridge);
    expect(continuous(await waitForBeatAbove(a, 'u2', beat + 5))).toBe(true);
    expect((await xlA('destroy', 'u2')).exitCode).toBe(0);
    expect(await masterOf(net.a, newTap)).toBeUndefined();
  }, 300_000);

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
