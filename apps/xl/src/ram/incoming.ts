/**
 * Incoming RAM: a QEMU started with `-incoming defer` (and -S) listens on a unix socket; the
 * verified RAM payload of a StreamReader is written into it with backpressure. Returns only
 * after QEMU completed the load AND RAM_END's total and digest matched: then, and only then,
 * the caller may `cont`. Used by restore (from a file) and migrate-receive (from a pipe).
 */
import { createConnection, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  followMigration,
  migrateIncoming,
  migrateSetCapabilities,
  type MigrationCapabilityStatus,
  type QmpClient,
} from '@xlkit/qmp';
import { StreamError, type RecordOf, type StreamReader, type StreamRecord } from '@xlkit/stream';
import { XlError } from '../errors.js';
import { ChunkFeeder, type FeederCredit } from './chunk-feeder.js';
import { raced } from '../raced.js';
import { forwardReturnPath } from './return-path.js';
import { interrupted, type RamTransferResult } from './ram-transfer.js';
import { enlargeSendBuffer } from '../host/send-buffer.js';
import { makeSocketsPrivate } from '../host/private-files.js';

export interface ReceiveRamOptions {
  /** Where QEMU listens (in the new domain's directory). */
  socketPath: string;
  reader: StreamReader;
  /** The first RAM_CHUNK if the caller already read it from the reader. */
  first?: RecordOf<'RAM_CHUNK'>;
  /** Payload bytes so far and the reader's input offset. */
  onProgress?: (p: { bytes: number; offset: number }) => void;
  signal?: AbortSignal;
  pollMs?: number;
  /** Pace the sender with RAM credit (a migration whose ends negotiated `ram-credit`). */
  credit?: FeederCredit;
  /** Capabilities besides `events` (migrate-receive adds late-block-activate). */
  capabilities?: MigrationCapabilityStatus[];
  /**
   * Resume a post-copy paused by a broken link whose recovery was armed at the break
   * (ram/postcopy-recovery.ts): QEMU listens on `socketPath` already, and may answer QMP only
   * once pages flow again, so the stream goes first and `qmp` may still be connecting.
   */
  recover?: boolean;
  /** Post-copy: what the destination QEMU writes back on its socket (its return path), piece by piece. */
  returnPath?: (piece: Buffer) => void;
  /** Any other record inside the RAM stream (migration control, tunnel); throw to abort. Default: refused. */
  onRecord?: (rec: StreamRecord) => Promise<void> | void;
}

export type ReceiveRamResult = RamTransferResult;

async function connect(path: string, signal?: AbortSignal): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw interrupted();
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path);
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt >= 100 || (code !== 'ENOENT' && code !== 'ECONNREFUSED')) {
        throw new XlError(
          'XL_QEMU_FAILED',
          `cannot connect to QEMU's incoming migration socket ${path}: ${code ?? String(err)}`,
          { cause: err },
        );
      }
      await sleep(20);
    }
  }
}

/**
 * Feeds the payload chunk by chunk (each crc-checked by the reader before it is written),
 * through a ChunkFeeder: paced by the reader (at most two chunks held), or with
 * `credit` by the sender's RAM credit, so that the reader never waits for QEMU. Either way
 * records interleaved with the RAM stream (the tunnel's, taken by the reader's intercept)
 * are handled while chunks drain.
 */
async function feed(
  socket: Socket,
  o: ReceiveRamOptions,
  qemuFailed: AbortSignal,
): Promise<{ bytes: number; chunks: number; digest: Buffer }> {
  let bytes = 0;
  let chunks = 0;
  let rec: Awaited<ReturnType<StreamReader['next']>> | undefined = o.first;
  const feeder = new ChunkFeeder(socket, o.credit);
  for (;;) {
    // A QEMU that died or failed ends the wait: with credit, no more chunks may ever come.
    if (rec === undefined) rec = await raced(o.reader.next(), qemuFailed);
    if (o.signal?.aborted) throw interrupted();
    if (rec === null || rec.name === 'END') {
      throw new StreamError('STREAM_RAM_INCOMPLETE', 'the stream ends without RAM_END', {
        offset: rec?.offset ?? o.reader.offset,
        expected: 'RAM_END',
        actual: rec?.name ?? 'end of input',
      });
    }
    if (rec.name === 'RAM_END') {
      await feeder.finish();
      await new Promise<void>((resolve) => socket.end(resolve));
      return { bytes, chunks, digest: rec.value.digest };
    }
    if (rec.name !== 'RAM_CHUNK' && o.onRecord !== undefined) {
      await o.onRecord(rec);
      rec = undefined;
      continue;
    }
    if (rec.name !== 'RAM_CHUNK') {
      throw new StreamError('STREAM_UNEXPECTED_RECORD', 'record where the RAM stream was expected', {
        offset: rec.offset,
        recordType: rec.type,
        expected: 'RAM_CHUNK',
        actual: rec.name,
      });
    }
    await feeder.push(rec.value.payload, rec.value.length);
    bytes += rec.value.length;
    chunks += 1;
    o.onProgress?.({ bytes, offset: o.reader.offset });
    rec = undefined;
  }
}

/**
 * migrate-incoming on `socketPath`, then the payload in. A bad stream rejects with the
 * reader's StreamError (byte offset and reason) — the caller must then kill this QEMU.
 */
export async function receiveRam(
  qmpOrLater: QmpClient | Promise<QmpClient>,
  options: ReceiveRamOptions,
): Promise<ReceiveRamResult> {
  const { socketPath, signal } = options;
  let socket: Socket | undefined;
  let stopReturn: (() => void) | undefined;
  try {
    if (!options.recover) {
      const qmp = await qmpOrLater;
      await rm(socketPath, { force: true });
      await migrateSetCapabilities(qmp, [
        { capability: 'events', state: true },
        ...(options.capabilities ?? []),
      ]);
      await migrateIncoming(qmp, { uri: `unix:${socketPath}` });
    }
    await makeSocketsPrivate([socketPath]); // QEMU made it 0750 (host/private-files.ts)
    socket = await connect(socketPath, signal);
    // A migration (credit) keeps the default buffer: QEMU's incoming stream and its NBD server
    // share its main loop, which reads the stream until the socket runs dry, so whatever waits
    // in this buffer at the vCPU stop is read before the NBD flush that stop sends (-q): with
    // 4 MiB that flush waited 37-77 ms, now 4-8 ms. The credit window is xl's own read-ahead.
    if (!options.credit) enlargeSendBuffer(socket);
    socket.on('error', () => undefined); // reported through write()/feed
    stopReturn = options.returnPath ? forwardReturnPath(socket, options.returnPath) : undefined;
    const outcome = Promise.resolve(qmpOrLater).then((qmp) =>
      followMigration(qmp, { pollMs: options.pollMs }),
    );
    const qemuFailed = new AbortController();
    outcome.catch((err: unknown) => qemuFailed.abort(err));
    let fed: Awaited<ReturnType<typeof feed>>;
    try {
      fed = await feed(socket, options, qemuFailed.signal);
    } catch (err) {
      // A bad stream is the cause (QEMU then dies of the cut-off stream): report it as is.
      if (err instanceof StreamError || err instanceof XlError) throw err;
      const why = await Promise.race([
        outcome.then(
          () => undefined,
          (e: unknown) => (e instanceof Error ? e.message : String(e)),
        ),
        sleep(3_000).then(() => undefined),
      ]);
      throw new XlError(
        'XL_QEMU_FAILED',
        `QEMU stopped taking the RAM stream: ${why ?? (err instanceof Error ? err.message : String(err))}`,
        { cause: err },
      );
    }
    // QEMU may still refuse what it read (device state, say), also after closing its socket.
    const migration = await outcome.catch((err: unknown) => {
      throw new XlError(
        'XL_QEMU_FAILED',
        `QEMU did not load the RAM stream: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    });
    return { ...fed, migration };
  } finally {
    stopReturn?.();
    socket?.destroy();
    // Tidying only: a state dir gone read-only must not fail a load QEMU completed (in post-copy
    // the guest already runs here). The next xl command finds the socket with its domain.
    await rm(socketPath, { force: true }).catch(() => undefined);
  }
}
