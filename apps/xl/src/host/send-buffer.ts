/**
 * Sockets xl writes bulk data into get a 4 MiB send buffer (@xlkit/os-tune): QEMU's incoming
 * migration socket in a restore (not in migrate-receive: ram/incoming.ts says why), both ends
 * of a tunnelled NBD connection, and the sender's forward stream to its receiver
 * (migrate/receiver-process.ts).
 * With the default 208 KiB the reader runs dry whenever xl is busy with the next chunk, and an
 * NBD server takes a 1 MiB write request in many small reads. 4 MiB holds a chunk of either
 * size xl writes (1 MiB in a migration, 4 MiB in a save file).
 */
import type { Socket } from 'node:net';
import { OsTuneError, setSendBuffer, type SendBuffer } from '@xlkit/os-tune';

export const BULK_SEND_BUFFER = 4 * 1024 * 1024;

/** Best effort: undefined where the addon is missing or the kernel refused (nothing else changes then). */
export function enlargeSendBuffer(socket: Socket): SendBuffer | undefined {
  try {
    return setSendBuffer(socket, BULK_SEND_BUFFER);
  } catch (err) {
    if (err instanceof OsTuneError) return undefined;
    throw err;
  }
}
