/**
 * Outgoing RAM: QEMU's migration stream, through a unix socket xl owns, framed into RAM_CHUNK
 * records by a StreamWriter. Used by save (to a file) and migrate (to a pipe).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import {
  followMigration,
  migrate,
  migrateCancel,
  migrateContinue,
  migrateSetCapabilities,
  migrateSetParameters,
  eventTimeMs,
  type EventListener,
  type MigrationCapabilityStatus,
  type MigrationProgress,
  type QmpClient,
} from '@xlkit/qmp';
import { readableChunks, type StreamWriter } from '@xlkit/stream';
import { XlError } from '../errors.js';
import type { RamCredit } from './ram-credit.js';
import { PostcopySwitch, RecoveryWatch, type PostcopyHooks } from './postcopy-switch.js';
import { interrupted, type RamTransferResult } from './ram-transfer.js';
import type { ReturnPathSink } from './return-path.js';
import { settleWithin } from '../settle-within.js';

/** "No limit" for max-bandwidth (bytes/s): QEMU's default of 128 MiB/s would throttle a local save. */
export const UNLIMITED_BANDWIDTH = Number.MAX_SAFE_INTEGER;

/**
 * --bandwidth caps pre-copy and post-copy alike (QEMU keeps them apart: max-bandwidth, and
 * max-postcopy-bandwidth, where 0 means unlimited).
 */
export function bandwidthLimits(bytesPerSecond: number | undefined): {
  'max-bandwidth': number;
  'max-postcopy-bandwidth': number;
} {
  return {
    'max-bandwidth': bytesPerSecond ?? UNLIMITED_BANDWIDTH,
    'max-postcopy-bandwidth': bytesPerSecond ?? 0,
  };
}

export interface RamProgress {
  /** Payload bytes framed so far. */
  bytes: number;
  /** QEMU's latest view (RAM total/remaining), once polled. */
  migration?: MigrationProgress;
}

export interface SendRamOptions {
  /** Where xl listens for QEMU's connection (in the domain's directory). */
  socketPath: string;
  writer: StreamWriter;
  /** max-bandwidth in bytes/s (default: unlimited). */
  maxBandwidth?: number;
  /** Extra capabilities; `events` is always on, `pause-before-switchover` follows onPreSwitchover. */
  capabilities?: MigrationCapabilityStatus[];
  /** When given, QEMU pauses before switchover and this runs before migrate-continue. */
  onPreSwitchover?: () => Promise<void>;
  onProgress?: (p: RamProgress) => void;
  signal?: AbortSignal;
  /** query-migrate interval (default 500 ms). */
  pollMs?: number;
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
  /** Post-copy allowed: when to switch, what to do once QEMU is in post-copy. */
  postcopy?: PostcopyHooks;
  /** Post-copy: where QEMU's return path from the destination arrives (written into QEMU's socket). */
  returnPath?: ReturnPathSink;
  /** Resume a post-copy paused by a broken link (`migrate resume=true`; no capability changes). */
  resume?: boolean;
}

export interface SendRamResult extends RamTransferResult {
  /** QEMU went through post-copy. */
  postcopy: boolean;
  /** When QEMU stopped the vCPUs for the switch-over (its STOP event's timestamp, ms since the epoch); absent when they were not running. */
  stoppedAtMs?: number;
}

async function listen(path: string): Promise<Server> {
  await rm(path, { force: true });
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
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

function abortPromise(signal: AbortSignal | undefined): Promise<never> {
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
  let started = false;
  let outcome: Promise<MigrationProgress> | undefined;
  let bytes = 0;
  let last: MigrationProgress | undefined;
  let stops: EventListener | undefined;
  let pc: PostcopySwitch | undefined;
  const aborted = abortPromise(signal);
  aborted.catch(() => undefined);
  try {
    await migrateSetParameters(qmp, bandwidthLimits(options.maxBandwidth));
    if (!options.resume) {
      await migrateSetCapabilities(qmp, [
        { capability: 'events', state: true },
        { capability: 'pause-before-switchover', state: options.onPreSwitchover !== undefined },
        ...(options.postcopy ? [{ capability: 'postcopy-ram' as const, state: true }] : []),
        ...(options.capabilities ?? []),
      ]);
    }
    const recovery = options.resume ? new RecoveryWatch() : undefined;
    let failed!: (err: unknown) => void;
    const hookFailed = new Promise<never>((_, reject) => (failed = reject));
    hookFailed.catch(() => undefined);
    pc = options.postcopy ? new PostcopySwitch(qmp, options.postcopy, failed) : undefined;
    // The vCPU stop for the switch-over; its timestamp (this host's wall clock) is when the guest's pause began.
    stops = qmp.listen('STOP');
    const connected = firstConnection(server);
    connected.catch(() => undefined);
    await migrate(qmp, { uri: `unix:${socketPath}`, ...(options.resume ? { resume: true } : {}) });
    started = true;
    const onProgress = (m: MigrationProgress) => {
      last = m;
      pc?.sample(m);
      recovery?.sample(m);
      options.onProgress?.({ bytes, migration: m });
    };
    outcome = (async () => {
      const pollMs = options.pollMs;
      if (options.onPreSwitchover && !options.resume) {
        await followMigration(qmp, { untilPreSwitchover: true, onProgress, pollMs });
        await options.onPreSwitchover();
        await migrateContinue(qmp, { state: 'pre-switchover' });
      }
      return followMigration(qmp, { onProgress, pollMs });
    })();
    outcome.catch(() => undefined);
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
    const framing = writer.writeRamFrom(payload(conn, outcome, count, options.readAhead, signal), {
      ...(credit ? { pace: (n: number) => credit.acquire(n) } : {}),
      chunkSize: options.chunkSize,
      flushIdleMs: options.flushIdleMs,
    });
    framing.catch(() => undefined);
    const framed = await Promise.race([framing, aborted, hookFailed]);
    const migration = await outcome;
    // The post-copy hook (telling the receiver) must have run before the result counts.
    if (pc?.activated) await pc.activated;
    const stoppedAtMs = await lastEventTime(stops);
    return {
      bytes: framed.bytes,
      chunks: framed.chunks,
      digest: framed.digest,
      migration,
      postcopy: pc?.active === true,
      ...(stoppedAtMs === undefined ? {} : { stoppedAtMs }),
    };
  } catch (err) {
    socket?.destroy();
    // In post-copy QEMU cannot go back: no cancel; the caller keeps both sides.
    if (started && pc?.active !== true && !options.resume) {
      await migrateCancel(qmp).catch(() => undefined);
      await settle(outcome);
    }
    throw err;
  } finally {
    stops?.close();
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

/** Waits (bounded) for the migration to reach a final state after a cancel. */
async function settle(outcome: Promise<unknown> | undefined): Promise<void> {
  if (outcome !== undefined) await settleWithin(outcome, 15_000);
}
