/**
 * The source half of a direct RAM transport: QEMU connects straight to the destination QEMU
 * (`migrate uri=tcp:HOST:PORT` or `unix:PATH`, the endpoint the receiver reported) and xl
 * only follows the migration: pause-before-switchover (the caller's hook runs there), then
 * completed. Nothing passes through xl, so nothing is framed or checksummed by xl: QEMU's own
 * stream format is all the checking there is (the relayed path, outgoing.ts, verifies).
 */
import { migrateSetParameters, type MigrationProgress, type QmpClient } from '@xlkit/qmp';
import { lstat } from 'node:fs/promises';
import type { MigrationKey, RamEndpoint } from '@xlkit/stream';
import { XlError } from '../errors.js';
import { addPskClient, dropMigrationTls, type PskCreds } from '../qemu/tls-psk.js';
import { abortPromise, lastEventTime, type RamProgress } from './outgoing.js';
import { OutgoingMigration, type OutgoingOptions } from './outgoing-migration.js';
import { interrupted } from './ram-transfer.js';

/** Bandwidth, the pre-switchover hook, post-copy, resume: see outgoing-migration.ts. */
export interface DirectSendOptions extends Omit<OutgoingOptions, 'onSample'> {
  endpoint: RamEndpoint;
  onPreSwitchover?: () => Promise<void>;
  onProgress?: (p: RamProgress) => void;
  signal?: AbortSignal;
  /** A TCP endpoint takes only TLS-PSK with this migration's key; `dir` holds it for QEMU a moment. */
  tls?: { key: MigrationKey; dir: string };
}

/** The source QEMU's TLS credentials object for a direct migration. */
export const RAM_TLS_ID = 'xlkit-migrate-tls';

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

/**
 * QEMU's `migrate` to a TCP endpoint presents the key (tls-creds); a unix one is the same
 * host's, in a 0700 dir, and needs none. Returns the credentials to remove afterwards.
 */
async function useTls(qmp: QmpClient, o: DirectSendOptions): Promise<PskCreds | undefined> {
  if (o.endpoint.transport !== 'tcp') return undefined;
  if (o.tls === undefined)
    throw new XlError(
      'XL_MIGRATION',
      'no migration key for the TCP endpoint: refusing to migrate unauthenticated',
    );
  const creds = { id: RAM_TLS_ID, dir: o.tls.dir };
  // A resume: the broken migration's object may still be there if its xl did not end cleanly.
  if (o.resume === true) await qmp.execute('object-del', { id: RAM_TLS_ID }).catch(() => undefined);
  await addPskClient(qmp, creds, o.tls.key);
  return creds;
}

/** For a sender that died mid-migration (recover-migration.ts): its TLS settings undone, quietly. */
export async function dropDirectTls(qmp: QmpClient): Promise<void> {
  await migrateSetParameters(qmp, { 'tls-creds': '' }).catch(() => undefined);
  await qmp.execute('object-del', { id: RAM_TLS_ID }).catch(() => undefined);
}

export async function sendRamDirect(qmp: QmpClient, o: DirectSendOptions): Promise<DirectSendResult> {
  if (o.signal?.aborted) throw interrupted();
  await checkUnixEndpoint(o.endpoint);
  let run: OutgoingMigration | undefined;
  const stops = qmp.listen('STOP');
  const aborted = abortPromise(o.signal);
  aborted.catch(() => undefined);
  let creds: PskCreds | undefined;
  try {
    creds = await useTls(qmp, o);
    if (creds !== undefined) await migrateSetParameters(qmp, { 'tls-creds': creds.id });
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
    await dropMigrationTls(qmp, creds);
  }
}
