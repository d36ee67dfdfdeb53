/**
 * A file that appears atomically: written under a hidden temporary name in the target's
 * directory, fsynced, renamed over the target, directory fsynced. Until commit() FILE is
 * untouched; discard() removes the temporary file. While it is written, every 64 MiB starts
 * a background fdatasync (write-behind), so commit()'s fsync only flushes the tail; a flush
 * that fails stops the writing at once. A FILE it replaces is freed by a helper process
 * (replaced-file.ts), not in the rename.
 */
import { createWriteStream, fstatSync, type Stats, type WriteStream } from 'node:fs';
import { lstat, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { systemErrorWords, XlError } from '../errors.js';
import type { FileIdentity } from '../host/file-identity.js';
import { holdReplaced, releaseDetached, type Release } from './replaced-file.js';
import { WriteBehind, type WriteBehindIo } from './write-behind.js';

/** `.NAME.xlkit-partial-PID` beside NAME. */
export function partialPath(target: string, pid = process.pid): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.xlkit-partial-${pid}`);
}

/** Whether `file` is named as the partial file of process `pid` (partialPath) would be. */
export function isPartialPath(file: string, pid: number): boolean {
  const m = /^\..+\.xlkit-partial-([1-9][0-9]*)$/.exec(path.basename(file));
  return m !== null && Number(m[1]) === pid && path.isAbsolute(file);
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * FILE must be absent or a regular file: the rename that puts the new file in place would
 * replace a device node, FIFO, socket or symlink with a regular file, and cannot replace a
 * directory. Checked before anything is written (and before a save stops its guest).
 */
export async function checkTarget(target: string): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new XlError(
      'XL_SAVE',
      `cannot use ${target}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        cause: err,
      },
    );
  }
  if (!st.isFile()) {
    throw new XlError(
      'XL_SAVE',
      `${target} is ${kind(st)}: the file is written beside it and renamed into place, which would replace it; give the path of a regular file or a new one`,
    );
  }
}

export class AtomicFile {
  readonly target: string;
  readonly tempPath: string;
  readonly stream: WriteStream;
  readonly #flusher: WriteBehind;
  /** How the FILE this one replaced was let go (set by commit() when there was one). */
  replaced: Release | undefined;
  /** FILE holds the new contents (the rename succeeded), even if commit() failed after it. */
  inPlace = false;
  /** The temporary file as created (device and inode): what a recovery may remove. */
  readonly partial: FileIdentity;

  private constructor(target: string, partial: FileIdentity, stream: WriteStream, flusher: WriteBehind) {
    this.target = target;
    this.tempPath = partial.path;
    this.partial = partial;
    this.stream = stream;
    this.#flusher = flusher;
    this.stream.on('error', () => undefined); // surfaced through the writer and commit()
  }

  static async create(
    target: string,
    options: { writeBehindBytes?: number; io?: Partial<WriteBehindIo> } = {},
  ): Promise<AtomicFile> {
    await checkTarget(target);
    const tempPath = partialPath(target);
    let stream: WriteStream | undefined;
    const flusher = new WriteBehind(options.writeBehindBytes, options.io, (err) => stream?.destroy(err));
    stream = createWriteStream(tempPath, {
      flags: 'wx',
      mode: 0o600,
      highWaterMark: 8 * 1024 * 1024,
      fs: flusher.fs,
    });
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) => {
        stream.once('open', (opened: number) => resolve(opened));
        stream.once('error', reject);
      });
    } catch (err) {
      throw new XlError('XL_SAVE', `cannot create ${tempPath}: ${systemErrorWords(err)}`, { cause: err });
    }
    const st = fstatSync(fd, { bigint: true });
    return new AtomicFile(
      target,
      { path: tempPath, dev: String(st.dev), ino: String(st.ino) },
      stream,
      flusher,
    );
  }

  /** Background flushes started while the file was written. */
  get backgroundFlushes(): number {
    return this.#flusher.flushes;
  }

  /** Flush, fsync, close, rename into place, fsync the directory. Returns the file size. */
  async commit(): Promise<number> {
    const fail = (what: string, err: unknown) =>
      new XlError('XL_SAVE', `${what} ${this.tempPath}: ${systemErrorWords(err)}`, { cause: err });
    let size: number;
    try {
      // Destroyed already (a failed background flush): its 'close' has been and gone.
      if (this.stream.destroyed)
        throw this.stream.errored ?? new Error('the file was closed before it was complete');
      await new Promise<void>((resolve, reject) => {
        this.stream.once('error', reject);
        this.stream.once('close', () => resolve());
        this.stream.end();
      });
      await this.#flusher.settle();
      const fh = await open(this.tempPath, 'r+');
      try {
        await fh.sync();
        size = (await fh.stat()).size;
      } finally {
        await fh.close();
      }
    } catch (err) {
      await this.discard();
      throw fail('cannot write', err);
    }
    try {
      await checkTarget(this.target); // replaced by a device node, FIFO or symlink meanwhile?
    } catch (err) {
      await this.discard();
      throw err;
    }
    // An old FILE is held open across the rename and freed by a helper (replaced-file.ts).
    const old = await holdReplaced(this.target);
    try {
      await rename(this.tempPath, this.target);
    } catch (err) {
      await old?.close().catch(() => undefined); // FILE keeps its link: nothing to free
      await rm(this.tempPath, { force: true });
      throw fail('cannot rename', err);
    }
    this.inPlace = true;
    if (old !== undefined) this.replaced = await releaseDetached(old);
    try {
      const dir = await open(path.dirname(this.target), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      throw new XlError(
        'XL_SAVE',
        `${this.target} is in place, but syncing its directory failed: ${systemErrorWords(err)}`,
        { cause: err },
      );
    }
    return size;
  }

  /** Remove the temporary file (safe to call more than once). */
  async discard(): Promise<void> {
    if (!this.stream.closed) {
      await new Promise<void>((resolve) => {
        this.stream.once('close', () => resolve());
        this.stream.destroy();
      });
    }
    await this.#flusher.settle().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }
}
