/**
 * Opening what `xl restore` reads, so that every wait honours the abort signal (SIGINT,
 * SIGTERM). A regular file opens at once. A FIFO's open waits for a writer, in a thread xl
 * cannot interrupt: on abort xl becomes that writer for an instant (which ends the wait) and
 * closes both ends. An open FIFO is then read through the event loop (a pipe handle), not
 * with blocking reads in the thread pool, so destroying it ends a read that waits for data.
 */
import { constants, open as openCb, openSync, closeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { XlError } from '../errors.js';

export interface OpenedInput {
  stream: Readable;
  /** The file's size; 0 for a FIFO. */
  size: number;
  close(): Promise<void>;
}

const openFd = promisify(openCb);
const errno = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);
const interrupted = () => new XlError('XL_INTERRUPTED', 'interrupted');

/** Ends our own pending open of `fifo` by opening it for writing (it has a reader now: us). */
async function releasePendingOpen(fifo: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      return;
    } catch (err) {
      // ENXIO: our open has not reached the kernel yet.
      if (errno(err) !== 'ENXIO') return;
    }
    await sleep(5);
  }
}

async function openFifo(file: string, signal: AbortSignal | undefined): Promise<number> {
  const opening = openFd(file, constants.O_RDONLY | constants.O_NOCTTY);
  if (signal === undefined) return opening;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([opening, aborted]);
  } catch (err) {
    if (signal.aborted) {
      await releasePendingOpen(file);
      const fd = await opening.catch(() => undefined);
      if (fd !== undefined) closeSync(fd);
    }
    throw err;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** Opens `file` for reading, waiting (abortably) for a FIFO's writer; throws XL_RESTORE or XL_INTERRUPTED. */
export async function openInput(file: string, signal?: AbortSignal): Promise<OpenedInput> {
  if (signal?.aborted === true) throw interrupted();
  const cannot = (err: unknown) =>
    new XlError('XL_RESTORE', `cannot open ${file}: ${errno(err)}`, { cause: err });
  const st = await stat(file).catch((err: unknown) => {
    throw cannot(err);
  });
  if (st.isDirectory()) throw new XlError('XL_RESTORE', `cannot open ${file}: it is a directory`);
  if (st.isFIFO()) {
    const fd = await openFifo(file, signal).catch((err: unknown) => {
      throw err instanceof XlError ? err : cannot(err);
    });
    const pipe = new Socket({ fd, readable: true, writable: false });
    return {
      stream: pipe,
      size: 0,
      close: async () => {
        pipe.destroy();
      },
    };
  }
  const fh = await open(file, 'r').catch((err: unknown) => {
    throw cannot(err);
  });
  return {
    stream: fh.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false }),
    size: st.size,
    close: () => fh.close(),
  };
}
