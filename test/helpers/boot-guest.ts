import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { accel as resolveAccel, type Accel } from './accel.js';
import { settle, track, type Cleanup } from './cleanup-registry.js';
import { guestArtifacts } from './paths.js';
import { guestQemuArgs, type DiskSpec } from './qemu-args.js';
import { waitForHeartbeats, type WaitOptions } from './serial-log.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

export interface BootOptions {
  /** Guest RAM, default 256 MiB. */
  memoryMiB?: number;
  /** Disk images, attached as virtio-blk (vda, vdb, ...). */
  disks?: (string | DiskSpec)[];
  /** Workload words for the kernel command line, e.g. "xlkit.disk=write". */
  cmdline?: string;
  extraArgs?: string[];
  /** Default: `await accel()`. */
  accel?: Accel;
  /** Start as a migration/restore target: `-incoming <uri>` (e.g. "defer"). */
  incoming?: string;
  /** Run QEMU inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Attach the serial port to a unix socket too, so the host can send guest commands. */
  serialInput?: boolean;
  /** Folder for the QMP socket and serial log; default a fresh temp dir removed at cleanup. */
  dir?: string;
}

export interface Guest {
  pid: number;
  qmpSocket: string;
  serialLog: string;
  /** The serial port's unix socket when booted with `serialInput: true`. */
  serialSocket?: string;
  dir: string;
  accel: Accel;
  /** The full QEMU argument vector (without the binary). */
  args: string[];
  /** Resolves when QEMU has exited (never rejects). */
  exited: Promise<{ exitCode?: number; signal?: string; stderr: string }>;
  isRunning(): boolean;
  /** Waits for `count` heartbeats, failing at once if QEMU exits; returns the last counter. */
  waitForHeartbeats(count: number, timeoutMs?: number): Promise<number>;
  /** SIGKILLs QEMU (by pid) and waits for it to be gone; safe to call twice. */
  kill(): Promise<void>;
}

/** Starts a test guest under QEMU; it is killed when the current test ends (see track()). */
export async function bootGuest(options: BootOptions = {}): Promise<Guest> {
  const { kernel, initramfs } = guestArtifacts();
  const accel = options.accel ?? (await guestAccel());
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'xlkit-guest-')));
  const qmpSocket = path.join(dir, 'qmp.sock');
  const serialLog = path.join(dir, 'serial.log');
  const serialSocket = options.serialInput ? path.join(dir, 'serial.sock') : undefined;
  const args = guestQemuArgs({ kernel, initramfs, accel, qmpSocket, serialLog, serialSocket, ...options });
  const [file, argv] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, QEMU_BINARY, ...args]]
    : [QEMU_BINARY, args];
  const child = execa(file, argv, { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false });
  const pid = child.pid;
  if (pid === undefined) {
    const result = await child;
    throw new Error(`${QEMU_BINARY} did not start: ${result.stderr || result.message}`);
  }
  let running = true;
  const exited = child.then((r) => {
    running = false;
    return { exitCode: r.exitCode, signal: r.signal, stderr: String(r.stderr ?? '') };
  });

  const kill = async (): Promise<void> => {
    if (running) process.kill(pid, 'SIGKILL');
    await exited;
  };
  const cleanup: Cleanup = {
    label: `qemu pid ${pid}`,
    async run() {
      await kill();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
    runSync() {
      if (running) process.kill(pid, 'SIGKILL');
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  track(cleanup);

  const abortIf: WaitOptions['abortIf'] = () => (running ? undefined : `QEMU pid ${pid} exited`);
  // QEMU creates the QMP socket before the guest runs: once it exists, QMP is usable.
  while (!existsSync(qmpSocket)) {
    if (!running) {
      const { exitCode, stderr } = await exited;
      await settle(cleanup);
      throw new Error(`${QEMU_BINARY} exited (code ${exitCode}) before its QMP socket appeared: ${stderr}`);
    }
    await sleep(20);
  }

  return {
    pid,
    qmpSocket,
    serialLog,
    ...(serialSocket === undefined ? {} : { serialSocket }),
    dir,
    accel,
    args,
    exited,
    isRunning: () => running,
    waitForHeartbeats: (count, timeoutMs = 60_000) =>
      waitForHeartbeats(serialLog, count, timeoutMs, { abortIf }),
    kill,
  };
}

let accelChoice: Promise<Accel> | undefined;

/** Boots the guest under KVM and reports whether it reached its first heartbeat. */
async function probeKvm(): Promise<boolean> {
  const guest = await bootGuest({ accel: 'kvm' });
  try {
    await guest.waitForHeartbeats(1, 15_000);
    return true;
  } catch {
    return false;
  } finally {
    await guest.kill();
  }
}

/**
 * The accelerator for test guests: TCG unless XL_ACCEL=kvm, or a probe boots the guest
 * under KVM to its first heartbeat (cached in .cache/accel-probe.json per kernel).
 */
export function guestAccel(): Promise<Accel> {
  if (accelChoice === undefined) {
    accelChoice = resolveAccel(probeKvm, readKernelName(path.join(guestArtifacts().dir, 'kernel-package')));
  }
  return accelChoice;
}

function readKernelName(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
