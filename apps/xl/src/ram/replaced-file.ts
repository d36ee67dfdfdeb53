/**
 * Freeing the file a save replaces, off the caller's path. The rename that puts a new save
 * file in place drops the last link of the old one, and the kernel frees its blocks inside
 * that rename (or the close of the last descriptor), synchronously. On ext4 mounted with
 * `discard`, as on this project's VMs, that took 0.32-0.46 s for a 1.2 GB file (truncate and
 * unlink alike): a third of a whole `xl save`. RocksDB and MySQL free large files in the
 * background for the same reason.
 *
 * So xl holds the old file open across the rename (`holdReplaced`), which leaves the rename
 * itself cheap, and then hands that last reference to a short-lived helper (`releaseDetached`):
 * `cat` with the file as an inherited descriptor, a pipe from xl as its stdin, and `/` as its
 * working directory. xl closes its own descriptor first, then ends the pipe; `cat` exits, and
 * the kernel frees the old file in that exit, in the helper's time, not xl's. The space comes
 * back a moment after xl returns (`Release.pid` says whom to wait for). Where the helper cannot
 * start, xl closes the descriptor itself and pays as before. Nothing here touches the new file.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';

/**
 * FILE's current inode, held open, when the rename over it would free it: a regular file (not
 * a symlink, not swapped for something else meanwhile) with no other link. Else undefined.
 */
export async function holdReplaced(target: string): Promise<FileHandle | undefined> {
  const before = await lstat(target).catch(() => undefined);
  if (before === undefined || !before.isFile() || before.nlink !== 1) return undefined;
  const held = await open(
    target,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
  ).catch(() => undefined);
  if (held === undefined) return undefined;
  const st = await held.stat().catch(() => undefined);
  if (st !== undefined && st.isFile() && st.dev === before.dev && st.ino === before.ino && st.nlink === 1)
    return held;
  await held.close().catch(() => undefined);
  return undefined;
}

export interface Release {
  /** 'helper': the helper process (pid) drops the last reference; 'in-process': xl closed it itself. */
  by: 'helper' | 'in-process';
  pid?: number;
}

/**
 * Drops `held` without waiting for the kernel to free the file. Never throws: the new file is
 * in place by now, and how the old one goes must not change the outcome. `onHeld` (tests) runs
 * once the helper holds the file and before it is told to exit.
 */
export async function releaseDetached(
  held: FileHandle,
  onHeld?: (pid: number) => void | Promise<void>,
): Promise<Release> {
  const inProcess = async (): Promise<Release> => {
    await held.close().catch(() => undefined);
    return { by: 'in-process' };
  };
  let helper: ReturnType<typeof spawn>;
  try {
    helper = spawn('cat', [], { stdio: ['pipe', 'ignore', 'ignore', held.fd], cwd: '/' });
  } catch {
    return inProcess();
  }
  // Nothing the helper does later is xl's concern (it only exits).
  helper.on('error', () => undefined);
  helper.stdin?.on('error', () => undefined);
  const started = await new Promise<boolean>((resolve) => {
    helper.once('spawn', () => resolve(true));
    helper.once('error', () => resolve(false));
  });
  const pid = helper.pid;
  if (!started || pid === undefined) return inProcess();
  helper.unref();
  // The helper has its own reference since it started: this close is cheap.
  await held.close().catch(() => undefined);
  try {
    await onHeld?.(pid);
  } finally {
    helper.stdin?.end();
  }
  return { by: 'helper', pid };
}
