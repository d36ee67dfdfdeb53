/**
 * A socket's incoming chunks as an async iterable, as they arrive: no concatenation (which
 * Readable's own iterator does through read()), the socket paused while more than `limit`
 * bytes wait, so the peer is held back by TCP/unix-socket backpressure.
 */
import type { Socket } from 'node:net';

export async function* socketChunks(socket: Socket, limit = 8 * 1024 * 1024): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (b: Buffer) => {
    queue.push(b);
    queued += b.length;
    if (queued > limit) socket.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (err: Error) => {
    failure = err;
    notify();
  };
  const onClose = () => {
    if (!ended && failure === undefined) failure = new Error('the socket closed before its end');
    notify();
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', onClose);
  try {
    for (;;) {
      const b = queue.shift();
      if (b !== undefined) {
        queued -= b.length;
        if (queued <= limit && socket.isPaused()) socket.resume();
        yield b;
        continue;
      }
      if (failure !== undefined) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', onClose);
  }
}
