/**
 * A larger send buffer for a socket xl writes bulk data into (SO_SNDBUF, which Node does not
 * expose; the addon's src/send-buffer.c). Between two processes a unix stream socket holds only
 * its sender's buffer, about 208 KiB by default, and the writer is woken to refill it only once
 * it is three-quarters empty: QEMU, reading 32 KiB at a time, runs dry whenever xl is busy
 * reading and checking the next chunk. Measured on `xl restore` of a 1.2 GB save file with a
 * 4 MiB buffer into QEMU's incoming socket: 1.4-2.8 s -> 1.0-1.1 s, and xl's CPU 1.6-1.8 s ->
 * 1.2-1.3 s (fewer wake-ups).
 */
import type { Socket } from 'node:net';
import { addon } from './addon.js';
import { OsTuneError } from './errors.js';

export interface SendBuffer {
  /** The buffer as the kernel reports it: Linux doubles what is asked, for its bookkeeping. */
  bytes: number;
  /** Set past the host's net.core.wmem_max (SO_SNDBUFFORCE, a privileged process); otherwise capped there. */
  forced: boolean;
}

/** The descriptor under a connected net.Socket (its libuv handle's), if it has one. */
function descriptorOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Asks for a send buffer of `bytes` (4 KiB..256 MiB) on a socket or descriptor. Returns what the
 * kernel set, or undefined where the addon did not build or the socket has no descriptor
 * (closed already). Throws OsTuneError when the descriptor refuses (not a socket, say), and a
 * RangeError for an argument outside those bounds.
 */
export function setSendBuffer(target: Socket | number, bytes: number): SendBuffer | undefined {
  const native = addon();
  const fd = typeof target === 'number' ? target : descriptorOf(target);
  if (native === undefined || fd === undefined) return undefined;
  try {
    const [size, forced] = native.setSendBuffer(fd, bytes);
    return { bytes: size, forced };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof RangeError || typeof code !== 'string') throw err;
    const call = (err as Error).message.split(':')[0] ?? 'setsockopt';
    throw new OsTuneError(
      'OS_TUNE_REFUSED',
      `cannot set the send buffer of descriptor ${fd} to ${bytes} bytes: ${(err as Error).message}`,
      {
        call,
        errno: code,
        fd,
        requested: bytes,
        cause: err,
      },
    );
  }
}
