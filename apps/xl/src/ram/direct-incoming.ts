/**
 * The destination half of a direct RAM transport: the incoming QEMU listens for the source
 * QEMU itself (`migrate-incoming` on a unix socket in the domain's dir when the sender is on
 * this host, else TCP on an ephemeral port at an address the sender reached us at), and xl
 * reports where, then only waits for QEMU's verdict. See direct-outgoing.ts for the trade-off.
 */
import { rm } from 'node:fs/promises';
import {
  followMigration,
  migrateIncoming,
  migrateSetCapabilities,
  migrateSetParameters,
  type MigrationCapabilityStatus,
  type MigrationProgress,
  type QmpClient,
} from '@xlkit/qmp';
import type { MigrationKey, RamEndpoint } from '@xlkit/stream';
import { XlError } from '../errors.js';
import { makeSocketsPrivate } from '../host/private-files.js';
import { addPskServer, dropMigrationTls, type PskCreds } from '../qemu/tls-psk.js';

export type DirectListen = { unix: string } | { tcp: string };

export interface DirectIncoming {
  endpoint: RamEndpoint;
  /** Settles when QEMU completed the incoming migration (rejects when it failed). */
  completed: Promise<MigrationProgress>;
  /**
   * QEMU's migration back to plain and its key gone (once, whoever asks first): at the end, or
   * at POSTCOPY_GO, where the live channel keeps its TLS session and a recovery channel must
   * not need one (recovery-forwarder.ts).
   */
  dropTls: () => Promise<void>;
}

/** The incoming QEMU's TLS credentials object for a direct migration over TCP. */
export const INCOMING_TLS_ID = 'xlkit-incoming-tls';

export interface ListenOptions {
  listen: DirectListen;
  capabilities?: MigrationCapabilityStatus[];
  pollMs?: number;
  /** TCP takes only TLS-PSK with the migration's key; `dir` holds it while QEMU listens. */
  tls?: { key: MigrationKey; dir: string };
}

/**
 * A TCP listener on a shared host is open to anyone there: it takes only a source that holds
 * the key. A peer that failed the TLS handshake leaves QEMU listening for the right one (7.2).
 */
async function listenTls(qmp: QmpClient, o: ListenOptions): Promise<PskCreds | undefined> {
  if ('unix' in o.listen) return undefined;
  if (o.tls === undefined)
    throw new XlError(
      'XL_MIGRATION',
      'the sender sent no migration key (an older xl): refusing to listen on TCP unauthenticated; upgrade it or use --transport tunnel',
    );
  const creds = { id: INCOMING_TLS_ID, dir: o.tls.dir };
  await addPskServer(qmp, creds, o.tls.key);
  return creds;
}

/**
 * The capabilities go out without waiting for their reply (QEMU runs a monitor's commands in
 * order); the endpoint is reported only once they succeeded, so no source connects to a
 * listener without them. TLS is set, and answered, before QEMU opens a TCP port.
 */
export async function listenRamDirect(qmp: QmpClient, o: ListenOptions): Promise<DirectIncoming> {
  const caps = migrateSetCapabilities(qmp, [
    { capability: 'events', state: true },
    ...(o.capabilities ?? []),
  ]);
  caps.catch(() => undefined);
  let creds: PskCreds | undefined;
  try {
    creds = await listenTls(qmp, o);
    if (creds !== undefined) await migrateSetParameters(qmp, { 'tls-creds': creds.id });
    const endpoint = await listenOn(qmp, o.listen);
    await caps;
    let dropped: Promise<void> | undefined;
    const dropTls = () => (dropped ??= dropMigrationTls(qmp, creds));
    const completed = incomingVerdict(qmp, o.pollMs).finally(dropTls);
    completed.catch(() => undefined);
    return { endpoint, completed, dropTls };
  } catch (err) {
    await dropMigrationTls(qmp, creds);
    throw err;
  }
}

async function listenOn(qmp: QmpClient, to: DirectListen): Promise<RamEndpoint> {
  const listen = (uri: string) => migrateIncoming(qmp, { uri });
  if ('unix' in to) {
    await rm(to.unix, { force: true });
    await listen(`unix:${to.unix}`);
    await makeSocketsPrivate([to.unix]); // QEMU made it 0750 (host/private-files.ts)
    return { transport: 'unix', path: to.unix };
  }
  const host = to.tcp;
  await listen(host.includes(':') ? `tcp:[${host}]:0` : `tcp:${host}:0`);
  const port = await incomingPort(qmp);
  if (port === undefined)
    throw new XlError(
      'XL_QEMU_FAILED',
      `QEMU did not say which port its incoming migration listens on at ${host}`,
    );
  return { transport: 'tcp', host, port };
}

/** Settles when QEMU completed the incoming migration (rejects when it failed); `qmp` may still be connecting. */
export function incomingVerdict(
  qmp: QmpClient | Promise<QmpClient>,
  pollMs?: number,
): Promise<MigrationProgress> {
  const completed = Promise.resolve(qmp)
    .then((q) => followMigration(q, { pollMs }))
    .catch((err: unknown) => {
      throw new XlError(
        'XL_QEMU_FAILED',
        `QEMU did not load the migration stream: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    });
  completed.catch(() => undefined);
  return completed;
}

/** The ephemeral port QEMU bound for `tcp:HOST:0`: query-migrate's socket-address (checked: QEMU's reply). */
async function incomingPort(qmp: QmpClient): Promise<number | undefined> {
  const info = await qmp.execute<{ 'socket-address'?: unknown }>('query-migrate');
  const list = Array.isArray(info['socket-address']) ? (info['socket-address'] as unknown[]) : [];
  for (const a of list) {
    if (a === null || typeof a !== 'object') continue;
    const { type, port } = a as { type?: unknown; port?: unknown };
    const n = typeof port === 'string' && /^[0-9]{1,5}$/.test(port) ? Number(port) : NaN;
    if (type === 'inet' && n >= 1 && n <= 65535) return n;
  }
  return undefined;
}
