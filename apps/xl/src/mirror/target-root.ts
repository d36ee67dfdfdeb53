/**
 * The directory an incoming `-q` migration may write into: the receiver's `--target-dir`, or
 * `disks` in its state directory. The sender names disks; it never chooses where this host
 * writes. The root is created 0700 when missing; an existing one must be a real directory
 * (not a symlink) owned by this user and writable by no one else, as others could otherwise
 * plant files or links in it. Every target is resolved inside its real path.
 */
import { lstat, mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { hostPathProblem } from '../config/config-schema.js';
import { MirrorError } from './mirror-error.js';

/** The default root under a state directory. */
export function defaultTargetRoot(stateDir: string): string {
  return path.join(stateDir, 'disks');
}

/**
 * A directory name that passes through the remote shell ssh runs untouched (the sender hands
 * its --target-dir to the receiver's command line): absolute and made of plain characters.
 */
export const PLAIN_DIR = /^\/[A-Za-z0-9._+/-]*$/;

/** Opens (creating if need be) the target root; returns its real path. */
export async function openTargetRoot(dir: string): Promise<string> {
  const problem = hostPathProblem(dir);
  if (problem !== undefined) throw new MirrorError('refused', `target directory '${dir}': ${problem}`);
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    throw new MirrorError('target', `cannot create the target directory ${dir}: ${err.code ?? err.message}`);
  });
  const st = await lstat(dir);
  const uid = process.geteuid?.() ?? st.uid;
  if (!st.isDirectory())
    throw new MirrorError('target', `target directory ${dir} is not a directory (a symlink is not taken)`);
  if (st.uid !== uid || (st.mode & 0o022) !== 0)
    throw new MirrorError(
      'target',
      `target directory ${dir} must be owned by uid ${uid} and writable by no one else (owner ${st.uid}, mode ${(st.mode & 0o7777).toString(8)})`,
    );
  return realpath(dir);
}

/** Whether `p` is `root` or lies below it (both real, normalized paths). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
