/**
 * Does KVM run guests here? /dev/kvm can exist while guests abort or crawl (nested hosts whose
 * KVM enters a guest but cannot run firmware), so xl boots a probe guest under `-accel kvm`:
 * QEMU's own firmware loads a 512-byte boot sector that writes to an isa-debug-exit port, and
 * QEMU exits with status (0x31 << 1) | 1 = 99. Only that status within the deadline counts.
 * On a working KVM host this takes a fraction of a second; on this project's build machines
 * the firmware takes 4 to 11 s under KVM (0.5 s under TCG) and real guests then hang, so the
 * deadline is 2 s: a KVM that slow is not one to run guests on (a 6 s deadline let a 4.3 s
 * probe through, and the guest that followed never booted).
 * The verdict is cached per QEMU binary (path, size, mtime, inode), kernel and boot, in the
 * state directory's cache, like the QEMU capabilities (capabilities.ts).
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { writeAtomic } from '../store/write-atomic.js';
import { identity } from './capabilities.js';
import { qemuEnv } from './env.js';

export interface KvmVerdict {
  works: boolean;
  /** Why, in words: "a probe guest booted under KVM in 180 ms", "/dev/kvm is missing". */
  why: string;
  /** From the cache (probed by an earlier xl). */
  cached?: boolean;
}

export const KVM_PROBE_FILE = 'kvm-probe.json';
/** How long the probe guest may take to reach its boot sector under KVM. */
export const KVM_PROBE_DEADLINE_MS = 2000;
const EXIT_STATUS = 99;

/** mov al, 0x31; out 0xf4, al; hlt; jmp $-1 — then the boot signature. */
function bootSector(): Buffer {
  const sector = Buffer.alloc(512);
  Buffer.from([0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(sector);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

async function devKvm(device: string): Promise<string | undefined> {
  try {
    await access(device, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `${device} is missing`
      : `${device} is not usable by this user (${code ?? 'error'})`;
  }
}

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
}

interface CacheEntry {
  stamp: string;
  works: boolean;
  why: string;
}

async function readCache(file: string): Promise<Record<string, unknown>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function validEntry(e: unknown): e is CacheEntry {
  const o = e as Partial<CacheEntry> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.stamp === 'string' &&
    typeof o.works === 'boolean' &&
    typeof o.why === 'string' &&
    o.why.length < 500
  );
}

/** Boots the probe guest under KVM with `qemu` and says whether it got there in time. */
export async function runKvmProbe(qemu: string, workDir: string): Promise<KvmVerdict> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(path.join(workDir, 'kvm-probe-'));
  try {
    const image = path.join(dir, 'boot.img');
    await writeFile(image, bootSector());
    const started = performance.now();
    const r = await execa(
      qemu,
      [
        ...['-accel', 'kvm', '-machine', 'pc', '-m', '16', '-nodefaults', '-no-user-config'],
        ...['-display', 'none', '-vga', 'none', '-monitor', 'none', '-serial', 'none'],
        ...['-device', 'isa-debug-exit,iobase=0xf4,iosize=1'],
        ...['-drive', `file=${image.replaceAll(',', ',,')},format=raw,if=ide`],
      ],
      {
        env: qemuEnv(),
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: KVM_PROBE_DEADLINE_MS,
        killSignal: 'SIGKILL',
      },
    );
    const ms = Math.round(performance.now() - started);
    if (r.exitCode === EXIT_STATUS) return { works: true, why: `a probe guest booted under KVM in ${ms} ms` };
    if (r.timedOut)
      return {
        works: false,
        why: `/dev/kvm is present but a probe guest did not boot under KVM within ${KVM_PROBE_DEADLINE_MS / 1000} s`,
      };
    const last = String(r.stderr)
      .trim()
      .split('\n')
      .filter((l) => !/warning:/.test(l))
      .at(-1);
    return {
      works: false,
      why: `QEMU could not run a probe guest under KVM: ${last?.slice(0, 200) || `exit status ${String(r.exitCode)}`}`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Whether KVM runs guests of `qemu` here: from the cache in `cacheDir`, else probed, unless
 * `spawn` is false (a dry run): then undefined when nothing is cached.
 */
export async function kvmVerdict(
  qemu: string,
  cacheDir: string,
  o: { spawn: boolean; probe?: typeof runKvmProbe; device?: string },
): Promise<KvmVerdict | undefined> {
  const missing = await devKvm(o.device ?? '/dev/kvm');
  if (missing !== undefined) return { works: false, why: missing };
  const id = await identity(qemu);
  const stamp = id === undefined ? undefined : `${id.stamp}:${os.release()}:${await bootId()}`;
  const file = path.join(cacheDir, KVM_PROBE_FILE);
  const cache = await readCache(file);
  const hit = id === undefined ? undefined : cache[id.binary];
  if (validEntry(hit) && hit.stamp === stamp) return { works: hit.works, why: hit.why, cached: true };
  if (!o.spawn) return undefined;
  const verdict = await (o.probe ?? runKvmProbe)(qemu, cacheDir);
  if (id !== undefined && stamp !== undefined) {
    cache[id.binary] = { stamp, works: verdict.works, why: verdict.why } satisfies CacheEntry;
    // A cache that cannot be written only costs the next xl a probe.
    await mkdir(cacheDir, { recursive: true, mode: 0o700 })
      .then(() => writeAtomic(file, JSON.stringify(cache)))
      .catch(() => undefined);
  }
  return verdict;
}
