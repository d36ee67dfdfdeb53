/**
 * Debian's libvirt for the peers benchmark: installed with apt-get when missing, its daemons
 * (virtlogd, libvirtd) started in the foreground as children of the benchmark when none
 * answers, and stopped by their pids afterwards; never one that was already running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const PACKAGES = ['libvirt-daemon-system', 'libvirt-clients'];
export const VIRSH_URI = 'qemu:///system';

function installed(pkg: string): boolean {
  try {
    return /^Status: install ok installed$/m.test(
      execFileSync('dpkg', ['-s', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
  } catch {
    return false;
  }
}

export function ensureLibvirt(): void {
  const missing = PACKAGES.filter((p) => !installed(p));
  if (missing.length === 0) return;
  console.log(`peers: apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env,
  });
}

function answers(): boolean {
  try {
    execFileSync('virsh', ['-c', VIRSH_URI, 'version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** The daemons this process started; stop() ends exactly those. */
export class LibvirtDaemons {
  private constructor(private readonly started: ChildProcess[]) {}

  static async start(): Promise<LibvirtDaemons> {
    if (answers()) return new LibvirtDaemons([]);
    const started: ChildProcess[] = [];
    const daemons = new LibvirtDaemons(started);
    try {
      for (const name of ['virtlogd', 'libvirtd']) {
        const child = spawn(name, [], { stdio: 'ignore' });
        child.on('error', () => undefined);
        started.push(child);
        if (name === 'virtlogd') await sleep(300);
      }
      for (let i = 0; !answers(); i++) {
        if (i > 100) throw new Error('libvirtd started but does not answer virsh version after 30 s');
        if (started.some((c) => c.exitCode !== null)) throw new Error('a libvirt daemon exited at start');
        await sleep(300);
      }
      return daemons;
    } catch (err) {
      await daemons.stop();
      throw err;
    }
  }

  get startedAny(): boolean {
    return this.started.length > 0;
  }

  async stop(): Promise<void> {
    for (const child of [...this.started].reverse()) {
      if (child.exitCode !== null || child.pid === undefined) continue;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
}

/** `virsh -c qemu:///system ARGS`, its stdout; throws with its stderr. */
export function virsh(...args: string[]): string {
  return execFileSync('virsh', ['-c', VIRSH_URI, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The domain XML equivalent to the xl guest: same kernel, initramfs, command line, RAM and vCPUs; TCG; no devices beyond a serial console to a file. */
export function domainXml(o: {
  name: string;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  console: string;
}): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');
  return `<domain type='qemu'>
  <name>${esc(o.name)}</name>
  <memory unit='MiB'>${o.memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${esc(o.kernel)}</kernel>
    <initrd>${esc(o.initrd)}</initrd>
    <cmdline>${esc(o.cmdline)}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='${esc(o.console)}'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}
