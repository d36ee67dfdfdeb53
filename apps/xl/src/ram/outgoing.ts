/**
 * Outgoing RAM: QEMU's migration stream, through a unix socket xl owns, framed into RAM_CHUNK
 * records by a StreamWriter. Used by save (to a file) and migrate (to a pipe).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { eventTimeMs, type EventListener, type MigrationProgress, type QmpClient } from '@xlkit/qmp';
import { readableChunks, type StreamWriter } from '@xlkit/stream';
import { XlError } from '../errors.js';
import { MIGRATION_CHUNK, type RamCredit } from './ram-credit.js';
import { openChunkReader, writeChunksFrom } from './framed-chunks.js';
import { OutgoingMigration, type OutgoingOptions } from './outgoing-migration.js';
import { interrupted, type RamTransferResult } from './ram-transfer.js';
import type { ReturnPathSink } from './return-path.js';
import { makeSocketsPrivate } from '../host/private-files.js';

export { UNLIMITED_BANDWIDTH } from './outgoing-migration.js';

export interface RamProgress {
  /** Payload bytes framed so far. */
  bytes: number;
  /** QEMU's latest view (RAM total/remaining), once polled. */
  migration?: MigrationProgress;
}

/** Bandwidth, capabilities, the pre-switchover hook, post-copy, resume: see outgoing-migration.ts. */
export interface SendRamOptions extends Omit<OutgoingOptions, 'onSample'> {
  /** Where xl listens for QEMU's connection (in the domain's directory). */
  socketPath: string;
  writer: StreamWriter;
  onProgress?: (p: RamProgress) => void;
  signal?: AbortSignal;
  /** Send each chunk only within this credit (a migration whose ends negotiated `ram-credit`). */
  credit?: RamCredit;
  /** RAM_CHUNK payload size (default: the largest, 4 MiB). */
  chunkSize?: number;
  /**
   * Bytes read from QEMU's socket ahead of the framing (default 8 MiB, which absorbs a file's
   * write stalls). A migration keeps it to one chunk: QEMU counts whatever xl holds as sent, so
   * a deep buffer here inflates the bandwidth QEMU measures, and QEMU then stops the vCPUs with
   * more left to deliver than its downtime estimate assumes; all of it crosses during the pause.
   */
  readAhead?: number;
  /** Send a partial chunk once QEMU has been quiet this long (a migration: see RamFramingOptions.flushIdleMs). */
  flushIdleMs?: number;
  /** Post-copy: where QEMU's return path from the destination arrives (written into QEMU's socket). */
  returnPath?: ReturnPathSink;
  /**
   * With `flushIdleMs` (a migration): read QEMU's socket a chunk at a time natively (see
   * framed-chunks.ts) where the addon built. Default true; false reads through Node (64 KiB
   * at a time), as a save always does.
   */
  nativeRead?: boolean;
}

export interface SendRamResult extends RamTransferResult {
  /** QEMU went through post-copy. */
  postcopy: boolean;
  /** When QEMU stopped the vCPUs for the switch-over (its STOP event's timestamp, ms since the epoch); absent when they were not running. */
  stoppedAtMs?: number;
}

async function listen(path: string): Promise<Server> {
  await rm(path, { force: true });
  // Nothing is read until the RAM framing chooses how to read (natively or through Node).
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await makeSocketsPrivate([path]);
  return server;
}

function firstConnection(server: Server): Promise<Socket> {
  return new Promise((resolve, reject) => {
    server.once('connection', (s) => {
      server.off('error', reject);
      server.close();
      resolve(s);
    });
    server.once('error', reject);
  });
}

export function abortPromise(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) reject(interrupted());
    signal?.addEventListener('abort', () => reject(interrupted()), { once: true });
  });
}

/** The socket's bytes, counted; at EOF waits for QEMU's verdict so RAM_END is only written after 'completed'. */
async function* payload(
  socket: Socket,
  outcome: Promise<MigrationProgress>,
  count: (n: number) => void,
  readAhead?: number,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  for await (const b of readableChunks<Buffer>(socket, readAhead)) {
    if (signal?.aborted) throw interrupted();
    count(b.length);
    yield b;
  }
  await outcome;
}

/**
 * Runs one outgoing migration into `writer` (which must be in phase 3): returns once QEMU
 * reports completed and RAM_END was written. On failure or abort the migration is cancelled
 * and QEMU's verdict awaited (so the caller may `cont`); the socket file is always removed.
 */
export async function sendRam(qmp: QmpClient, options: SendRamOptions): Promise<SendRamResult> {
  const { socketPath, writer, signal } = options;
  if (signal?.aborted) throw interrupted();
  const server = await listen(socketPath);
  let socket: Socket | undefined;
  let run: OutgoingMigration | undefined;
  let bytes = 0;
  let last: MigrationProgress | undefined;
  // The vCPU stop for the switch-over; its timestamp (this host's wall clock) is when the guest's pause began.
  const stops = qmp.listen('STOP');
  // Ends a native read loop still running when this returns or fails (it holds its own descriptor).
  const halt = new AbortController();
  const aborted = abortPromise(signal);
  aborted.catch(() => undefined);
  try {
    const connected = firstConnection(server);
    connected.catch(() => undefined);
    run = await OutgoingMigration.start(qmp, `unix:${socketPath}`, {
      ...options,
      onSample: (m) => {
        last = m;
        options.onProgress?.({ bytes, migration: m });
      },
    });
    const { outcome, hookFailed } = run;
    const noConnection = outcome.then(() => {
      throw new XlError('XL_MIGRATION', 'QEMU finished the migration without connecting to xl');
    });
    noConnection.catch(() => undefined);
    socket = await Promise.race([connected, noConnection, aborted, hookFailed]);
    const conn = socket;
    options.returnPath?.attach(conn);
    const count = (n: number) => {
      bytes += n;
      options.onProgress?.({ bytes, migration: last });
    };
    const credit = options.credit;
    const pace = credit ? (n: number) => credit.acquire(n) : undefined;
    const native =
      options.flushIdleMs !== undefined && options.nativeRead !== false ? openChunkReader(conn) : undefined;
    if (native === undefined) conn.resume();
    const framing =
      native !== undefined
        ? writeChunksFrom(writer, native, {
            chunkSize: options.chunkSize ?? MIGRATION_CHUNK,
            idleMs: options.flushIdleMs ?? 1,
            count,
            outcome,
            ...(pace ? { pace } : {}),
            signal: signal ? AbortSignal.any([signal, halt.signal]) : halt.signal,
          })
        : writer.writeRamFrom(payload(conn, outcome, count, options.readAhead, signal), {
            ...(pace ? { pace } : {}),
            chunkSize: options.chunkSize,
            flushIdleMs: options.flushIdleMs,
          });
    framing.catch(() => undefined);
    const framed = await Promise.race([framing, aborted, hookFailed]);
    const migration = await outcome;
    const postcopy = await run.settled();
    const stoppedAtMs = await lastEventTime(stops);
    return {
      bytes: framed.bytes,
      chunks: framed.chunks,
      digest: framed.digest,
      migration,
      postcopy,
      ...(stoppedAtMs === undefined ? {} : { stoppedAtMs }),
    };
  } catch (err) {
    socket?.destroy();
    await run?.abandon();
    throw err;
  } finally {
    halt.abort();
    stops.close();
    socket?.destroy();
    server.close();
    await rm(socketPath, { force: true });
  }
}

/** The timestamp (ms since the epoch) of the last event queued in `l`, which QEMU sent before the reply just read. */
/** The timestamp of the last event `l` holds (a STOP: when the guest's pause began). */
export async function lastEventTime(l: EventListener): Promise<number | undefined> {
  let at: number | undefined;
  while (l.size > 0) {
    const ev = await l.next();
    if (ev !== undefined) at = eventTimeMs(ev);
  }
  return at;
}
