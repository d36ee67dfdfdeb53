// End to end: bridged networking (vif = [ 'bridge=br0' ]) across xl migrate between two
// network-namespace hosts whose bridges share one L2 segment (helpers/netns.ts), with a third
// namespace "client" on it. The guest's init puts xlkit.ip on eth0 and echoes TCP port 7.
import { describe, expect, it } from 'vitest';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { DomainView } from '@xlkit/xl';
import {
  cleanupAfterEach,
  createBridgedHosts,
  holdEchoConnection,
  masterOf,
  pingFlood,
  startSshd,
  waitForPing,
  waitForSsh,
  type NetnsHost,
} from './helpers/index.js';
import { BOOT_TIMEOUT_MS, XL, guestConfig, records, xlHost, type XlHost } from './xl-rig.js';

cleanupAfterEach();

const PING_INTERVAL_MS = 50;

/** `xl migrate --json DOMAIN HOST` run on `from` over `sshCommand`. */
async function migrate(from: NetnsHost, a: XlHost, sshCommand: string, dom: string, to: string) {
  const [file, ...args] = from.wrap([
    process.execPath,
    XL,
    '--state-dir',
    a.stateDir,
    'migrate',
    '--json',
    '-s',
    sshCommand,
    dom,
    to,
  ]);
  const r = await execa(file!, args, { reject: false, stdin: 'ignore', timeout: 180_000 });
  const events = String(r.stdout)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { exitCode: r.exitCode, stderr: String(r.stderr), last: events.at(-1) ?? {} };
}

describe('bridged vifs (real QEMU, two network-namespace hosts on one L2 segment)', () => {
  it('the guest answers on its bridge; across xl migrate (and save/restore) pings go on and a TCP connection survives', async () => {
    const net = await createBridgedHosts();
    const a = xlHost('br-a-');
    const b = xlHost('br-b-');
    const guestIp = net.a.address.replace(/\.1$/, '.10');
    const cfg = await guestConfig(a.dir, 'br1', {
      extra: `"console=ttyS0 quiet xlkit.ip=${guestIp}/${net.prefixLength}"`,
      vif: `[ 'bridge=${net.bridge}, model=virtio' ]`,
    });
    const created = await net.a.exec(['node', XL, '--state-dir', a.stateDir, 'create', cfg], {
      reject: false,
    });
    expect(created.exitCode, String(created.stderr)).toBe(0);
    const [source] = records(a.stateDir);
    const tap = `vif${source!.id}.0`;
    // xl made the tap, put it on A's bridge, recorded it, and gave the vif a Xen MAC.
    expect(await masterOf(net.a, tap)).toBe(net.bridge);
    expect(source!.taps).toEqual([{ name: tap, bridge: net.bridge, mac: source!.config.vifs[0]!.mac }]);
    expect(source!.config.vifs[0]!.mac).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/);
    await waitForPing(net.a, guestIp, BOOT_TIMEOUT_MS);

    // A destination without the bridge refuses before starting anything; the guest stays on A.
    const bare = xlHost('br-c-');
    const sshC = await startSshd(net.client, { env: { XL_STATE_DIR: bare.stateDir }, commands: { xl: XL } });
    await waitForSsh(net.a, sshC, net.client.address);
    const refused = await migrate(net.a, a, sshC.sshCommand, 'br1', net.client.address);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/bridge 'br0' does not exist on this host/);
    expect(records(bare.stateDir)).toEqual([]);
    expect(await masterOf(net.a, tap)).toBe(net.bridge);

    const conn = await holdEchoConnection(net.client, guestIp);
    await conn.roundTrip('before the move');
    const flood = pingFlood(net.client, guestIp, PING_INTERVAL_MS);
    await flood.waitForMore(10);

    const sshB = await startSshd(net.b, { env: { XL_STATE_DIR: b.stateDir }, commands: { xl: XL } });
    await waitForSsh(net.a, sshB, net.b.address);
    const moved = await migrate(net.a, a, sshB.sshCommand, 'br1', net.b.address);
    expect(moved.exitCode, moved.stderr).toBe(0);
    expect(moved.last).toMatchObject({ result: 'ok', domain: 'br1' });
    await flood.waitForMore(20);
    const { answered, lost } = await flood.stop();
    const pausedMs = typeof moved.last.pausedMs === 'number' ? moved.last.pausedMs : 0;
    console.log(
      `bridge migration: ${answered.length} pings answered, ${lost.length} lost (${lost.join(',')}), guest paused ${pausedMs} ms`,
    );
    // Lost pings are the ones sent while the guest was paused (plus a little slack for the
    // switch-over itself), not the whole rest of the run as when the network did not follow.
    expect(lost.length).toBeLessThanOrEqual(Math.ceil(pausedMs / PING_INTERVAL_MS) + 10);
    await conn.roundTrip('after the move');

    // A's tap went with the domain; B made its own, on B's bridge, and removes it on destroy.
    expect(await masterOf(net.a, tap)).toBeUndefined();
    const [there] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(there).toMatchObject({ name: 'br1', status: 'running' });
    const target = records(b.stateDir)[0]!;
    expect(target.config.vifs[0]!.mac).toBe(source!.config.vifs[0]!.mac);
    const tapB = `vif${target.id}.0`;
    expect(await masterOf(net.b, tapB)).toBe(net.bridge);

    // Save and restore on B: the tap goes with the saved domain, the restored one gets its own
    // with the same MAC, and the held connection still echoes.
    const xlB = (...args: string[]) =>
      net.b.exec(['node', XL, '--state-dir', b.stateDir, ...args], { reject: false });
    const file = path.join(b.dir, 'br1.save');
    const saved = await xlB('save', 'br1', file);
    expect(saved.exitCode, String(saved.stderr)).toBe(0);
    expect(await masterOf(net.b, tapB)).toBeUndefined();
    const restored = await xlB('restore', file);
    expect(restored.exitCode, String(restored.stderr)).toBe(0);
    const back = records(b.stateDir)[0]!;
    expect(back.config.vifs[0]!.mac).toBe(source!.config.vifs[0]!.mac);
    expect(await masterOf(net.b, `vif${back.id}.0`)).toBe(net.bridge);
    await conn.roundTrip('after save and restore');
    await conn.close();

    const destroyed = await xlB('destroy', 'br1');
    expect(destroyed.exitCode, String(destroyed.stderr)).toBe(0);
    expect(await masterOf(net.b, `vif${back.id}.0`)).toBeUndefined();
  }, 300_000);
});

describe('vif hotplug scripts and tap cleanup (real QEMU, one namespace host)', () => {
  it("runs script online/offline with vif-bridge's variables; a crashed domain's taps go when it is reaped; a failed start leaves none", async () => {
    const net = await createBridgedHosts();
    const a = xlHost('br-s-');
    const log = path.join(a.dir, 'script.log');
    const script = path.join(a.dir, 'vif-test');
    await writeFile(
      script,
      [
        '#!/bin/sh',
        `echo "$1 vif=$vif bridge=$bridge mac=$mac type=$XENBUS_TYPE" >> ${log}`,
        '[ "$1" = online ] && exec ip link set dev "$vif" master "$bridge" up',
        '[ "$1" = fail ] || exit 0',
        '',
      ].join('\n'),
    );
    await chmod(script, 0o755);
    const cfg = await guestConfig(a.dir, 'sc1', {
      vif: `[ 'bridge=${net.bridge}', 'bridge=${net.bridge}, script=${script}, vifname=sc1-eth1, mac=00:16:3e:00:00:42' ]`,
    });
    const xlA = (...args: string[]) =>
      net.a.exec(['node', XL, '--state-dir', a.stateDir, ...args], { reject: false });
    const created = await xlA('create', cfg);
    expect(created.exitCode, String(created.stderr)).toBe(0);
    const [rec] = records(a.stateDir);
    const tap0 = `vif${rec!.id}.0`;
    expect(await masterOf(net.a, tap0)).toBe(net.bridge);
    expect(await masterOf(net.a, 'sc1-eth1')).toBe(net.bridge);
    expect(await readFile(log, 'utf8')).toBe(
      `online vif=sc1-eth1 bridge=${net.bridge} mac=00:16:3e:00:00:42 type=vif\n`,
    );

    // The guest's QEMU dies: the next xl command reaps the domain and its taps with it.
    process.kill(rec!.qemu!.pid, 'SIGKILL');
    const listed = await xlA('list');
    expect(String(listed.stderr)).toMatch(/domain 'sc1' \(id \d+\) is gone/);
    expect(await masterOf(net.a, tap0)).toBeUndefined();
    expect(await masterOf(net.a, 'sc1-eth1')).toBeUndefined();
    expect((await readFile(log, 'utf8')).split('\n')[1]).toBe(
      `offline vif=sc1-eth1 bridge=${net.bridge} mac=00:16:3e:00:00:42 type=vif`,
    );

    // A start whose script fails is rolled back: one line, no record, no tap.
    await writeFile(script, '#!/bin/sh\necho "no uplink" >&2\nexit 3\n');
    const failed = await xlA('create', cfg);
    expect(failed.exitCode).toBe(1);
    expect(String(failed.stderr)).toMatch(/vif script .*vif-test online for 'sc1-eth1' failed: no uplink/);
    expect(records(a.stateDir)).toEqual([]);
    const links = String((await net.a.exec(['ip', '-o', 'link', 'show'])).stdout);
    expect(links).not.toMatch(/vif\d+\.0|sc1-eth1/);
  });
});
