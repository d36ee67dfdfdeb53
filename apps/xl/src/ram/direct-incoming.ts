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
  type MigrationCapabilityStatus,
  type MigrationProgress,
  type QmpClient,
} from '@xlkit/qmp';
import type { RamEndpoint } from '@xlkit/stream';
import { XlError } from '../errors.js';
import { makeSocketsPrivate } from '../host/private-files.js';

export type DirectListen = { unix: string } | { tcp: string };

export interface DirectIncoming {
  endpoint: RamEndpoint;
  /** Settles when QEMU completed the incoming migration (rejects when it failed). */
  completed: Promise<MigrationProgress>;
}

export async function listenRamDirect(
  qmp: QmpClient,
  o: { listen: DirectListen; capabilities?: MigrationCapabilityStatus[]; pollMs?: number },
): Promise<DirectIncoming> {
  await migrateSetCapabilities(qmp, [{ capability: 'events', state: true }, ...(o.capabilities ?? [])]);
  const listen = (uri: string) => migrateIncoming(qmp, { uri });
  let endpoint: RamEndpoint;
  if ('unix' in o.listen) {
    await rm(o.listen.unix, { force: true });
    await listen(`unix:${o.listen.unix}`);
    await makeSocketsPrivate([o.listen.unix]); // QEMU made it 0750 (host/private-files.ts)
    endpoint = { transport: 'unix', path: o.listen.unix };
  } else {
    const host = o.listen.tcp;
    await listen(host.includes(':') ? `tcp:[${host}]:0` : `tcp:${host}:0`);
    const port = await incomingPort(qmp);
    if (port === undefined) {
      throw new XlError(
        'XL_QEMU_FAILED',
        `QEMU did not say which port its incoming migration listens on at ${host}`,
      );
    }
    endpoint = { transport: 'tcp', host, port };
  }
  return { endpoint, completed: incomingVerdict(qmp, o.pollMs) };
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
