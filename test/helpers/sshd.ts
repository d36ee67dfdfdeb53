import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { track } from './cleanup-registry.js';
import type { NetnsHost } from './netns.js';
import { tempDir } from './temp-dir.js';

export interface SshServer {
  port: number;
  /** The client private key (authorized on the server). */
  key: string;
  /** `-s` value for `xl migrate`: ssh with this server's port, key and no host-key prompts. */
  sshCommand: string;
  /** Stops sshd (by the pid this helper started); safe to call twice. */
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Environment for every session (e.g. XL_STATE_DIR of the "host"). */
  env?: Record<string, string>;
  /** Commands made available on the session PATH: name -> executable. */
  commands?: Record<string, string>;
  port?: number;
}

/**
 * Debian's sshd inside a network namespace, with its own host key, one authorized client key
 * and a private port, stopped when the current test ends (passed or failed).
 */
export async function startSshd(host: NetnsHost, o: SshdOptions = {}): Promise<SshServer> {
  const dir = tempDir('xlkit-sshd-');
  const port = o.port ?? 2222;
  const hostKey = path.join(dir, 'host_key');
  const key = path.join(dir, 'client_key');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(`${key}.pub`));
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  for (const [name, target] of Object.entries(o.commands ?? {})) await symlink(target, path.join(bin, name));
  const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, ...o.env };
  const config = [
    `Port ${port}`,
    `ListenAddress ${host.address}`,
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitRootLogin yes',
    `SetEnv ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
    '',
  ].join('\n');
  const configFile = path.join(dir, 'sshd_config');
  await writeFile(configFile, config);
  await chmod(dir, 0o700);
  await mkdir('/run/sshd', { recursive: true });
  const [file, ...args] = host.wrap(['/usr/sbin/sshd', '-D', '-e', '-f', configFile]);
  const child = spawn(file!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  track({ label: `sshd ${host.ns}:${port}`, run: stop, runSync: () => void child.kill('SIGKILL') });
  const sshCommand = `ssh -p ${port} -i ${key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR`;
  return { port, key, sshCommand, stop };
}

/** Waits until `client` can log in to `server` at `address` and run `true`. */
export async function waitForSsh(
  client: NetnsHost,
  server: SshServer,
  address: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await client.exec([...server.sshCommand.split(' '), address, 'true'], { reject: false });
    if (r.exitCode === 0) return;
    if (Date.now() > deadline)
      throw new Error(`ssh to ${address}:${server.port} never worked: ${String(r.stderr)}`);
    await sleep(200);
  }
}
