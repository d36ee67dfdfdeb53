/**
 * A Readable's chunks as an async iterable, as they arrive: no concatenation (which Readable's
 * own iterator does through read()), and the source paused while more than `limit` bytes wait
 * to be taken, so a socket or pipe peer is held back by the kernel's backpressure. Used for
 * every byte stream xlkit frames or parses (QEMU's migration socket, the migration pipe).
 */
import type { Readable } from 'node:stream';

export interface ChunkStats {
  /** The most bytes ever queued at once. */
  maxQueued: number;
  /** How many times the source was paused for being ahead by more than the limit. */
  pauses: number;
}

export async function* readableChunks<T extends Buffer | string = Buffer>(
  r: Readable,
  limit = 8 * 1024 * 1024,
  stats?: ChunkStats,
): AsyncGenerator<T> {
  const queue: T[] = [];
  let head = 0;
  let queued = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (c: T) => {
    queue.push(c);
    queued += c.length;
    if (stats && queued > stats.maxQueued) stats.maxQueued = queued;
    if (queued > limit && !r.isPaused()) {
      r.pause();
      if (stats) stats.pauses += 1;
    }
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (err: unknown) => {
    failure = err;
    notify();
  };
  const onClose = () => {
    if (!ended && failure === undefined) failure = new Error('the input closed before its end');
    notify();
  };
  r.on('data', onData);
  r.on('end', onEnd);
  r.on('error', onError);
  r.on('close', onClose);
  try {
    for (;;) {
      if (head < queue.length) {
        const c = queue[head] as T;
        queue[head] = undefined as unknown as T;
        head += 1;
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
        }
        queued -= c.length;
        if (queued <= limit && r.isPaused() && !ended) r.resume();
        yield c;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    r.off('data', onData);
    r.off('end', onEnd);
    r.off('error', onError);
    r.off('close', onClose);
  }
}
