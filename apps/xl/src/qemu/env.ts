/**
 * The environment xl starts QEMU with: the caller's, plus glibc malloc tunables that keep the
 * memory QEMU frees. QEMU allocates each NBD request's and each mirror copy's buffer (up to
 * 1 MiB) with qemu_memalign and frees it when the request is done; glibc serves such blocks
 * with mmap and returns them with munmap, so every request faulted its buffer in again, and in
 * a multi-threaded QEMU each munmap also shoots down TLBs on the other vCPUs. On this project's
 * VMs, where a page fault is expensive, that was a quarter of a destination QEMU's time while
 * it took a disk mirror (perf: exc_page_fault under the socket copy into the fresh buffer).
 * Blocks below 32 MiB (glibc's largest mmap threshold) now come from the heap, and the heap is
 * trimmed only past 256 MiB free; guest RAM is QEMU's own mmap and is not affected.
 * Measured, `npm run bench -- migrate-q`'s baseline (the same QMP sequence, no xl in the path):
 * mirror of 1 GiB 4.60-4.62 s -> 2.53-2.75 s.
 *
 * What a QEMU keeps is bounded by its own peak: glibc only keeps memory that was in use
 * before (here tens of MiB of request buffers during a mirror), never more than that.
 *
 * A setting the caller made wins: a key already in GLIBC_TUNABLES, or its older form
 * (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_), which GLIBC_TUNABLES would override.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const QEMU_MALLOC_TUNABLES: readonly { key: string; value: string; legacy: string }[] = [
  { key: 'glibc.malloc.mmap_threshold', value: String(32 * 1024 * 1024), legacy: 'MALLOC_MMAP_THRESHOLD_' },
  { key: 'glibc.malloc.trim_threshold', value: String(256 * 1024 * 1024), legacy: 'MALLOC_TRIM_THRESHOLD_' },
];

/** `base`'s GLIBC_TUNABLES with ours added for every key it does not set (there, or in an older variable). */
export function withMallocTunables(base: NodeJS.ProcessEnv): string {
  const given = (base.GLIBC_TUNABLES ?? '').split(':').filter((t) => t !== '');
  const keys = new Set(given.map((t) => t.split('=', 1)[0]));
  const ours = QEMU_MALLOC_TUNABLES.filter((t) => !keys.has(t.key) && base[t.legacy] === undefined);
  return [...given, ...ours.map((t) => `${t.key}=${t.value}`)].join(':');
}

/**
 * Where a QEMU unpacked outside the system's prefixes (`dpkg-deb -x` of a newer package, as
 * `xl upgrade --device-model` takes) keeps its loadable modules: PREFIX/lib/<triplet>/qemu
 * beside PREFIX/bin. Without QEMU_MODULE_DIR it would load the system's modules, built for
 * another QEMU, which it refuses or crashes on (its TCG accelerator is one of them).
 */
export function ownModuleDir(binary: string): string | undefined {
  const bin = path.dirname(path.resolve(binary));
  const prefix = path.dirname(bin);
  if (path.basename(bin) !== 'bin' || ['/usr', '/usr/local', '/'].includes(prefix)) return undefined;
  for (const dir of [
    path.join(prefix, 'lib', 'x86_64-linux-gnu', 'qemu'),
    path.join(prefix, 'lib', 'qemu'),
  ]) {
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

/** The environment for a QEMU process started by xl (or by a benchmark's baseline, to match). */
export function qemuEnv(base: NodeJS.ProcessEnv = process.env, binary?: string): NodeJS.ProcessEnv {
  const tunables = withMallocTunables(base);
  const env = tunables === '' ? { ...base } : { ...base, GLIBC_TUNABLES: tunables };
  const modules =
    binary === undefined || base.QEMU_MODULE_DIR !== undefined ? undefined : ownModuleDir(binary);
  return modules === undefined ? env : { ...env, QEMU_MODULE_DIR: modules };
}
