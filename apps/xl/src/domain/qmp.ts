/** QMP access to a domain's QEMU through @xlkit/qmp. */
import { QmpClient, cont, queryStatus, stop } from '@xlkit/qmp';
import { XlError } from '../errors.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { isQemuAlive } from './liveness.js';

export interface ConnectQmpOptions {
  /** How long to retry while the socket is not there yet (default 10 s). */
  connectTimeoutMs?: number;
  /** Greeting + capabilities negotiation (default 10 s). */
  handshakeTimeoutMs?: number;
}

/** Connects to a live domain's QMP socket; throws XL_DOMAIN_DEAD when its QEMU is gone. */
export async function connectQmp(
  store: DomainStore,
  record: DomainRecord,
  options: ConnectQmpOptions = {},
): Promise<QmpClient> {
  if (!isQemuAlive(record)) {
    throw new XlError('XL_DOMAIN_DEAD', `domain '${record.name}' (id ${record.id}) has no running QEMU`, {
      domain: record.name,
    });
  }
  return QmpClient.connect(store.paths(record.id).qmp, {
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
  });
}

/** Runs fn with a QMP connection that is closed afterwards, whatever happens. */
export async function withQmp<T>(
  store: DomainStore,
  record: DomainRecord,
  fn: (qmp: QmpClient) => Promise<T>,
  options?: ConnectQmpOptions,
): Promise<T> {
  const qmp = await connectQmp(store, record, options);
  try {
    return await fn(qmp);
  } finally {
    await qmp.close();
  }
}

export interface RunStateResult {
  status: string;
  running: boolean;
}

/** query-status with its reply checked (QMP replies are untrusted input). */
export async function queryRunState(qmp: QmpClient): Promise<RunStateResult> {
  const r = (await queryStatus(qmp)) as unknown as Partial<RunStateResult> | null;
  if (typeof r !== 'object' || r === null || typeof r.status !== 'string') {
    throw new XlError('XL_QEMU_FAILED', `unexpected query-status reply: ${JSON.stringify(r).slice(0, 200)}`);
  }
  return { status: r.status, running: r.running === true };
}

/**
 * QEMU 7.2 refuses to migrate, and so to save, a VM that an earlier migration or save left in
 * `postmigrate` ("paused due to previous migration"), and only `cont` leaves that state. Such
 * a VM is resumed and stopped again at once (its vCPUs run for an instant); any other state is
 * left alone. Returns the run state to go on from.
 */
export async function leavePostmigrate(qmp: QmpClient): Promise<RunStateResult> {
  const now = await queryRunState(qmp);
  if (now.status !== 'postmigrate') return now;
  await cont(qmp);
  await stop(qmp);
  return queryRunState(qmp);
}
