/**
 * The source half of a direct RAM transport: QEMU connects straight to the destination QEMU
 * (`migrate uri=tcp:HOST:PORT` or `unix:PATH`, the endpoint the receiver reported) and xl
 * only follows the migration: pause-before-switchover (the caller's hook runs there), then
 * completed. Nothing passes through xl, so nothing is framed or checksummed by xl: QEMU's own
 * stream format is all the checking there is (the relayed path, outgoing.ts, verifies).
 */
import type { MigrationProgress, QmpClient } from '@xlkit/qmp';
import { lstat } from 'node:fs/promises';
import type { RamEndpoint } from '@xlkit/stream';
import { XlError } from '../errors.js';
import { abortPromise, lastEventTime, type RamProgress } from './outgoing.js';
import { OutgoingMigration, type OutgoingOptions } from './outgoing-migration.js';
import { interrupted } from './ram-transfer.js';

/** Bandwidth, the pre-switchover hook, post-copy, resume: see outgoing-migration.ts. */
export interface DirectSendOptions extends Omit<OutgoingOptions, 'onSample'> {
  endpoint: RamEndpoint;
  onPreSwitchover?: () => Promise<void>;
  onProgress?: (p: RamProgress) => void;
  signal?: AbortSignal;
}

export interface DirectSendResult {
  /** What QEMU reports it transferred. */
  bytes: number;
  migration: MigrationProgress;
  stoppedAtMs?: number;
  /** QEMU went through post-copy. */
  postcopy: boolean;
}

/** The URI QEMU's `migrate` takes for an endpoint (IPv6 in brackets). */
export function endpointUri(e: RamEndpoint): string {
  if (e.transport === 'unix') return `unix:${e.path}`;
  return e.host.includes(':') ? `tcp:[${e.host}]:${e.port}` : `tcp:${e.host}:${e.port}`;
}

/**
 * A unix endpoint comes from the peer: before QEMU is pointed at it, it must be a socket on
 * this host (not a symlink, not a file) that this user owns, or root.
 */
export async function checkUnixEndpoint(e: RamEndpoint, uid = process.geteuid?.() ?? -1): Promise<void> {
  if (e.transport !== 'unix') return;
  const st = await lstat(e.path).catch(() => undefined);
  if (st === undefined || !st.isSocket()) {
    throw new XlError(
      'XL_MIGRATION',
      `the receiver offered its QEMU on the unix socket ${e.path}, which is not a socket on this host`,
    );
  }
  if (uid !== 0 && st.uid !== uid) {
    throw new XlError(
      'XL_MIGRATION',
      `the receiver's socket ${e.path} belongs to uid ${st.uid}, not to this user (${uid})`,
    );
  }
}

export async function sendRamDirect(qmp: QmpClient, o: DirectSendOptions): Promise<DirectSendResult> {
  if (o.signal?.aborted) throw interrupted();
  await checkUnixEndpoint(o.endpoint);
  let run: OutgoingMigration | undefined;
  const stops = qmp.listen('STOP');
  const aborted = abortPromise(o.signal);
  aborted.catch(() => undefined);
  try {
    run = await OutgoingMigration.start(qmp, endpointUri(o.endpoint), {
      ...o,
      onSample: (m) => o.onProgress?.({ bytes: m.transferred, migration: m }),
    });
    const migration = await Promise.race([run.outcome, aborted, run.hookFailed]);
    const postcopy = await run.settled();
    const stoppedAtMs = await lastEventTime(stops);
    return {
      bytes: migration.transferred,
      migration,
      postcopy,
      ...(stoppedAtMs === undefined ? {} : { stoppedAtMs }),
    };
  } catch (err) {
    await run?.abandon();
    throw err;
  } finally {
    stops.close();
  }
}
