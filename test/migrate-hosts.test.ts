// End to end: xl migrate between two "hosts" (network namespaces joined by veth) over real ssh.
// Host B runs its own sshd (own host key, authorized key and port, stopped afterwards); its
// sessions find `xl` through a wrapper on PATH that points at B's state dir. The guest's disk
// is one file both hosts see (no -q).
import { describe, expect, it } from 'vitest';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import { cleanupAfterEach, createHostPair, track, type NetnsHost } from './helpers/index.js';
import { XL, continuous, guestConfig, waitForBeatAbove, xlHost, type XlHost } from './xl-rig.js';

cleanupAfterEach();

/** Starts sshd inside `host`'s namespace; stopped when the test ends. Returns the ssh -s command. */
async function startSshd(host: NetnsHost, dir: string, b: XlHost, port: number): Promise<string> {
  const keys = path.join(dir, 'ssh');
  const bin = path.join(dir, 'bin');
  await mkdir(keys, { mode: 0o700 });
  await mkdir(bin);
  await mkdir('/run/sshd', { recursive: true });
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, 'host_key')]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, 'client_key')]);
  await execa('cp', [path.join(keys, 'client_key.pub'), path.join(keys, 'authorized_keys')]);
  const wrapper = path.join(bin, 'xl');
  await writeFile(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${XL}' --state-dir '${b.stateDir}' "$@"\n`);
  await chmod(wrapper, 0o755);
  const config = path.join(keys, 'sshd_config');
  await writeFile(config, [
    `Port ${port}`, `ListenAddress ${host.address}`, `HostKey ${path.join(keys, 'host_key')}`,
    `AuthorizedKeysFile ${path.join(keys, 'authorized_keys')}`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', `PidFile ${path.join(keys, 'sshd.pid')}`,
    `SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin`, 'LogLevel ERROR', '',
  ].join('\n'));
  const [file, ...args] = host.wrap(['/usr/sbin/sshd', '-D', '-e', '-f', config]);
  const sshd = execa(file!, args, { reject: false, stdin: 'ignore' });
  const stop = () => {
    if (sshd.pid !== undefined && isProcessAlive(sshd.pid)) sshd.kill('SIGTERM');
  };
  track({ label: `sshd in ${host.ns}`, run: async () => { stop(); await sshd; }, runSync: stop });
  const ssh = `ssh -p ${port} -i ${path.join(keys, 'client_key')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR`;
  // Wait until it accepts a session that finds the wrapper.
  for (let i = 0; ; i++) {
    const probe = await execa('ip', ['netns', 'exec', host.ns, ...ssh.split(' '), host.address, 'command', '-v', 'xl'], { reject: false });
    if (probe.exitCode === 0 && String(probe.stdout).trim() === wrapper) break;
    if (i > 100) throw new Error(`sshd did not come up: ${String(probe.stderr)}`);
    await sleep(100);
  }
  return ssh;
}

describe('xl migrate between two network-namespace hosts over ssh (real QEMU)', () => {
  it('moves the guest to B: heartbeat continues there, nothing left on A', async () => {
    const pair = await createHostPair();
    const a = xlHost('mig-a-');
    const b = xlHost('mig-b-');
    const disk = path.join(a.dir, 'shared.raw');
    await execa('truncate', ['-s', '16M', disk]);
    const created = await a.xl('create', await guestConfig(a.dir, 'hop1', { disk: `[ "${disk},raw,xvda,rw" ]` }));
    expect(created.exitCode, created.stderr).toBe(0);
    const beat = (await waitForBeatAbove(a, 'hop1', 2)).at(-1)!;
    const [source] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];

    const ssh = await startSshd(pair.b, b.dir, b, 2200 + (process.pid % 1000));
    const [file, ...args] = pair.a.wrap([process.execPath, XL, '--state-dir', a.stateDir, 'migrate', '-s', ssh, 'hop1', pair.b.address]);
    const r = await execa(file!, args, { reject: false, stdin: 'ignore', timeout: 180_000 });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toContain(`Migration successful: domain hop1 now runs on ${pair.b.address}`);

    expect(isProcessAlive(source!.qemu!.pid)).toBe(false);
    expect(JSON.parse((await a.xl('list', '--json')).stdout)).toEqual([]);
    const [moved] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(moved).toMatchObject({ name: 'hop1', status: 'running' });
    const beats = await waitForBeatAbove(b, 'hop1', beat + 5);
    expect(beats[0]).toBeGreaterThan(beat);
    expect(continuous(beats)).toBe(true);
  });
});
