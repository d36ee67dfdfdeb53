/**
 * A directory xl keeps its state in must be its own: xl acts on what it finds there (kills the
 * QEMU a record names, removes files, connects to sockets), so a directory someone else could
 * write is refused rather than repaired. Checked with lstat (a symlink is refused, never
 * followed), never chmod'ed: a missing directory is created 0700, an existing one is left as
 * it is or refused.
 */
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { XlError } from '../errors.js';

const errno = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);

/** Why `st` (lstat of `dir`) is not a directory owned by `uid` and closed to others' writes. */
export function untrustedReason(st: Stats, uid: number): string | undefined {
  if (st.isSymbolicLink()) return 'it is a symbolic link (give the directory it points to)';
  if (!st.isDirectory()) return 'it is not a directory';
  if (st.uid !== uid) return `it is owned by uid ${st.uid}, not by uid ${uid} who runs xl`;
  const writers = [(st.mode & 0o020) !== 0 ? 'its group' : '', (st.mode & 0o002) !== 0 ? 'others' : ''];
  if (writers.some((w) => w !== ''))
    return `it is writable by ${writers.filter((w) => w !== '').join(' and ')} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

/**
 * Makes sure `dir` is xl's own directory: creates it (and missing parents) with mode 0700 when
 * absent, else checks it; throws XL_STATE naming the reason when it is not to be trusted.
 */
export async function ensureOwnDir(dir: string, uid = process.geteuid?.() ?? 0): Promise<void> {
  let st = await lstat(dir).catch((err: unknown) => {
    if (errno(err) === 'ENOENT') return undefined;
    throw new XlError('XL_STATE', `cannot use state directory ${dir}: ${errno(err)}`, { cause: err });
  });
  if (st === undefined) {
    try {
      await mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      // EEXIST: another xl created it meanwhile; it is checked below like any existing one.
      if (errno(err) !== 'EEXIST')
        throw new XlError('XL_STATE', `cannot create state directory ${dir}: ${errno(err)}`, { cause: err });
    }
    st = await lstat(dir);
  }
  const why = untrustedReason(st, uid);
  if (why !== undefined) {
    throw new XlError(
      'XL_STATE',
      `refusing state directory ${dir}: ${why}; xl keeps guest RAM, sockets and the records it acts on there, so it must be a directory only uid ${uid} can write`,
    );
  }
}
