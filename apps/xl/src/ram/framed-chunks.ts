/**
 * QEMU's outgoing migration stream framed a chunk per native read (a migration, where the addon
 * built): `ChunkReader` fills a 1 MiB buffer from QEMU's socket on a pool thread and returns when
 * it is full, at EOF, or once QEMU has been quiet for `idleMs` (the partial chunk goes out at
 * once, as `flushIdleMs` does on the Node path). Each read becomes one RAM_CHUNK through the
 * same StreamWriter, so the records' bytes, their order among the others the writer sends
 * (tunnel, control) and the RAM credit are exactly as on the Node path.
 *
 * Why: Node reads a socket 64 KiB at a time, each a fresh Buffer, a 'data' event, a promise
 * and an idle timer in JavaScript. For the 1.3-1.4 GB stream of a 2 GiB guest that was about
 * 2.5 CPU-s in the sending xl, on a machine whose two cores the QEMUs already keep busy.
 */
import type { Socket } from 'node:net';
import type { MigrationProgress } from '@xlkit/qmp';
import { ChunkReader } from '@xlkit/os-tune';
import type { RamFramingResult, StreamWriter } from '@xlkit/stream';
import { interrupted } from './ram-transfer.js';

/** How long one native read waits for a quiet QEMU before JavaScript looks at the abort signal. */
const WAIT_MS = 50;

/** A native reader on the socket's descriptor, or undefined (no addon, no descriptor): read through Node then. */
export function openChunkReader(socket: Socket): ChunkReader | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  return ChunkReader.open(fd);
}

export interface ChunkFramingOptions {
  chunkSize: number;
  idleMs: number;
  /** Awaited before each chunk goes out, with its length (the RAM credit). */
  pace?: (length: number) => Promise<void> | void;
  /** Payload bytes as they are read. */
  count: (n: number) => void;
  /** QEMU's verdict: RAM_END is written only once it is 'completed'. */
  outcome: Promise<MigrationProgress>;
  /** Stops the reading (the migration failed or was interrupted). */
  signal?: AbortSignal;
}

/** Frames `reader`'s stream into `writer` (in phase 3) up to EOF and QEMU's completion, then RAM_END; always closes the reader. */
export async function writeChunksFrom(
  writer: StreamWriter,
  reader: ChunkReader,
  o: ChunkFramingOptions,
): Promise<RamFramingResult> {
  let bytes = 0;
  let chunks = 0;
  try {
    let buffer = Buffer.allocUnsafeSlow(o.chunkSize);
    for (;;) {
      const got = await reader.read(buffer, o.idleMs, WAIT_MS);
      if (o.signal?.aborted) throw interrupted();
      if (got.bytes > 0) {
        o.count(got.bytes);
        // A trickle (zero pages while QEMU scans) is copied out, so the big buffer is read into
        // again instead of each few hundred bytes holding a whole chunk's memory.
        const small = got.bytes < o.chunkSize / 4;
        const chunk = small ? Buffer.from(buffer.subarray(0, got.bytes)) : buffer.subarray(0, got.bytes);
        if (!small) buffer = Buffer.allocUnsafeSlow(o.chunkSize);
        if (o.pace) await o.pace(chunk.length);
        if (o.signal?.aborted) throw interrupted();
        await writer.writeRamChunk(chunk);
        bytes += chunk.length;
        chunks += 1;
      }
      if (got.eof) break;
    }
  } finally {
    await reader.close();
  }
  await o.outcome;
  const digest = await writer.endRam();
  return { bytes, chunks, digest };
}
