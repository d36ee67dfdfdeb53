/**
 * What a QEMU binary is and can do: its version (`--version`) and machine types
 * (`-machine help`), cached per binary the way libvirt caches capabilities: keyed by the
 * binary's resolved path, size, mtime and inode, in the state directory, so create, restore
 * and migrate-receive do not start extra QEMUs (~60 ms here) each time. A stale, unreadable
 * or foreign cache entry is simply probed again.
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { writeAtomic } from '../store/write-atomic.js';
import { XlError } from '../errors.js';
import { qemuEnv } from './env.js';

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
}

export interface QemuCapabilities {
  /** undefined when `--version` printed nothing xl can read. */
  version: QemuVersion | undefined;
  machines: Set<string>;
  /** alias -> what it resolves to, e.g. pc -> pc-i440fx-7.2. */
  aliases: Map<string, string>;
}

/** Parses `qemu-system-x86_64 -machine help`: names, and what the aliases resolve to. */
export function parseMachineHelp(text: string): Pick<QemuCapabilities, 'machines' | 'aliases'> {
  const machines = new Set<string>();
  const aliases = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+.*?(?:\(alias of (\S+)\))?\s*$/.exec(line);
    if (!m || line.startsWith('Supported machines')) continue;
    machines.add(m[1]!);
    if (m[2] !== undefined) aliases.set(m[1]!, m[2]);
  }
  return { machines, aliases };
}

/** Parses `qemu-system-x86_64 --version`: "QEMU emulator version 7.2.22 (Debian ...)". */
export function parseVersion(text: string): QemuVersion | undefined {
  const m = /QEMU emulator version (\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3]) } : undefined;
}

/** The binary execa would run for `qemu` (a path, or a name looked up in PATH). */
async function resolveBinary(qemu: string): Promise<string | undefined> {
  if (qemu.includes('/')) return path.resolve(qemu);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, qemu);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** The binary's path and a stamp of its identity (size, mtime, inode): a new build is a new stamp. */
export async function identity(qemu: string): Promise<{ binary: string; stamp: string } | undefined> {
  const binary = await resolveBinary(qemu);
  if (binary === undefined) return undefined;
  try {
    const s = await stat(binary);
    return { binary, stamp: `${s.size}:${s.mtimeMs}:${s.ino}` };
  } catch {
    return undefined;
  }
}

/** The cache's file name in the cache directory. */
export const CACHE_FILE = 'qemu-capabilities.json';

interface CacheEntry {
  stamp: string;
  version: QemuVersion | null;
  machines: string[];
  aliases: [string, string][];
}

/** One entry per binary path (the latest build seen), keyed by path. */
interface CacheFile {
  entries: Record<string, CacheEntry>;
}

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isVersion = (v: unknown): v is QemuVersion | null =>
  v === null ||
  (typeof v === 'object' &&
    isCount((v as QemuVersion).major) &&
    isCount((v as QemuVersion).minor) &&
    isCount((v as QemuVersion).micro));
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function validEntry(e: unknown): e is CacheEntry {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return (
    typeof o.stamp === 'string' &&
    isVersion(o.version) &&
    isStrings(o.machines) &&
    o.machines.length > 0 &&
    Array.isArray(o.aliases) &&
    o.aliases.every((p) => isStrings(p) && p.length === 2)
  );
}

async function readCache(file: string): Promise<CacheFile> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<CacheFile>;
    return typeof parsed.entries === 'object' && parsed.entries !== null && !Array.isArray(parsed.entries)
      ? { entries: parsed.entries }
      : { entries: {} };
  } catch {
    return { entries: {} };
  }
}

/** One line for a failed run: QEMU's last stderr line, else the first line of execa's summary. */
function failureLine(stderr: string, summary: string): string {
  const last = stderr.trim().split('\n').at(-1)?.trim();
  return last !== undefined && last !== '' ? last : (summary.split('\n')[0] ?? summary);
}

async function run(qemu: string, args: string[], what: string): Promise<string> {
  const r = await execa(qemu, args, { reject: false, timeout: 30_000, env: qemuEnv(process.env, qemu) });
  if (r.failed)
    throw new XlError(
      'XL_QEMU_FAILED',
      `cannot read the ${what} of ${qemu}: ${r.code === 'ENOENT' ? 'no such program' : failureLine(String(r.stderr), r.shortMessage ?? 'failed')}`,
    );
  return String(r.stdout);
}

async function probe(qemu: string): Promise<QemuCapabilities> {
  const [machines, version] = await Promise.all([
    run(qemu, ['-machine', 'help'], 'machine types'),
    run(qemu, ['--version'], 'version'),
  ]);
  return { version: parseVersion(version), ...parseMachineHelp(machines) };
}

/** A cache entry for this exact binary, if one is there. */
function cached(cache: CacheFile, id: { binary: string; stamp: string }): QemuCapabilities | undefined {
  const hit: unknown = cache.entries[id.binary];
  if (!validEntry(hit) || hit.stamp !== id.stamp) return undefined;
  return {
    version: hit.version ?? undefined,
    machines: new Set(hit.machines),
    aliases: new Map(hit.aliases),
  };
}

/**
 * The cached capabilities of `qemu`, or undefined: never runs it. For a dry run, which must
 * start nothing it was not asked to (`device_model_override` may name any program).
 */
export async function cachedQemuCapabilities(
  qemu: string,
  cacheDir: string,
): Promise<QemuCapabilities | undefined> {
  const id = await identity(qemu);
  return id === undefined ? undefined : cached(await readCache(path.join(cacheDir, CACHE_FILE)), id);
}

/** The capabilities of `qemu`, from the cache in `cacheDir` when the binary is unchanged. */
export async function qemuCapabilities(qemu: string, cacheDir?: string): Promise<QemuCapabilities> {
  const id = cacheDir === undefined ? undefined : await identity(qemu);
  if (cacheDir === undefined || id === undefined) return probe(qemu);
  const file = path.join(cacheDir, CACHE_FILE);
  const cache = await readCache(file);
  const hit = cached(cache, id);
  if (hit !== undefined) return hit;
  const found = await probe(qemu);
  // A QEMU that listed nothing is not remembered: the next caller asks again.
  if (found.machines.size === 0) return found;
  cache.entries[id.binary] = {
    stamp: id.stamp,
    version: found.version ?? null,
    machines: [...found.machines],
    aliases: [...found.aliases],
  };
  try {
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    await writeAtomic(file, JSON.stringify(cache));
  } catch {
    // A cache that cannot be written only costs the next caller a probe.
  }
  return found;
}
