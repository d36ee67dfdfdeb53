/**
 * An `xl migrate` that died (SIGKILL, a crash) leaves its source domain as it was at that
 * moment: possibly paused at QEMU's pre-switchover, in `postmigrate`, with disk mirrors and NBD
 * nodes attached, renamed NAME--migratedaway. The next xl command on this host finds its mark
 * (migration-mark.ts) with the process gone and does what the sender's completion path would
 * have done (link/PROTOCOL.md's failure table):
 *   - before GO: cancel QEMU's migration and the mirrors xl started, put the name and status
 *     back, resume the domain if it ran;
 *   - after GO (or in post-copy): the domain may run on the destination; the copy here stays
 *     paused as NAME--migratedaway, and the command says so once.
 */
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { cont, migrateCancel, queryBlockJobs, queryNamedBlockNodes, type QmpClient } from '@xlkit/qmp';
import { leavePostmigrate, queryRunState, withQmp } from '../domain/qmp.js';
import { errorMessage } from '../errors.js';
import { isProcessAlive } from '../host/process-info.js';
import { abortMirrors, dropClientTls, type MirrorDisk } from '../mirror/source-mirror.js';
import { dropDirectTls } from '../ram/direct-outgoing.js';
import type { DomainRecord, MigrationMark } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { withoutMark } from './migration-mark.js';

/** QEMU's migration states in which a cancel has yet to take effect. */
const UNSETTLED = new Set(['setup', 'active', 'pre-switchover', 'device', 'cancelling', 'wait-unplug']);

function orphaned(d: DomainRecord): MigrationMark | undefined {
  const m = d.migration;
  return m !== undefined && !isProcessAlive(m.pid, m.startTime) ? m : undefined;
}

/** The same mark, still orphaned: nobody else recovered it meanwhile. */
const sameMark = (r: DomainRecord, m: MigrationMark): boolean =>
  orphaned(r)?.pid === m.pid && r.migration?.startTime === m.startTime;

/** Recovers every orphaned migration among `live`; returns one message per domain. */
export async function recoverAbandonedMigrations(
  store: DomainStore,
  live: readonly DomainRecord[],
): Promise<string[]> {
  const messages: string[] = [];
  for (const d of live) {
    const m = orphaned(d);
    if (m === undefined) continue;
    const message = m.pastGo ? await keepPaused(store, d, m) : await rollBack(store, d, m);
    if (message !== undefined) messages.push(message);
  }
  return messages;
}

/** Before GO: QEMU's migration and the mirrors cancelled, the domain as it was. */
async function rollBack(store: DomainStore, d: DomainRecord, m: MigrationMark): Promise<string | undefined> {
  let state: string;
  try {
    state = await withQmp(store, d, (qmp) => undoSource(qmp, m.wasRunning));
  } catch (err) {
    state = `not resumed (${errorMessage(err)})`;
  }
  await removeSockets(store, d);
  const claimed = await store
    .update(d.id, (r) =>
      sameMark(r, m)
        ? { ...withoutMark(r), name: m.wasName, status: m.wasRunning ? 'running' : m.wasStatus }
        : r,
    )
    .catch(() => undefined);
  if (claimed === undefined || claimed.migration !== undefined) return undefined;
  return `domain '${m.wasName}' (id ${d.id}): the xl ${m.command ?? 'migrate'} of it to ${m.host} (pid ${m.pid}) went away before the point of no return; ${m.command ?? 'migration'} cancelled, domain ${state} again`;
}

async function undoSource(qmp: QmpClient, wasRunning: boolean): Promise<string> {
  await migrateCancel(qmp).catch(() => undefined);
  await settled(qmp);
  // Only what xl's own mirror made (its job and node names), never another block job.
  const jobs = (await queryBlockJobs(qmp))
    .map((j) => j.device)
    .filter((id) => id.startsWith('xlkit-mirror-'));
  const nodes = (await queryNamedBlockNodes(qmp, { flat: true }))
    .map((n) => String(n['node-name']))
    .filter((n) => n.startsWith('xlkit-nbd-'));
  const ids = new Set([
    ...jobs.map((j) => j.slice('xlkit-mirror-'.length)),
    ...nodes.map((n) => n.slice('xlkit-nbd-'.length)),
  ]);
  const disks: MirrorDisk[] = [...ids].map((id) => ({
    id,
    jobId: `xlkit-mirror-${id}`,
    nbdNode: `xlkit-nbd-${id}`,
    exportName: '',
  }));
  if (disks.length > 0) await abortMirrors(qmp, disks);
  // The dead sender's key (direct over TCP) leaves QEMU; a later save must not try TLS.
  await dropClientTls(qmp);
  await dropDirectTls(qmp);
  const now = await leavePostmigrate(qmp);
  if (wasRunning && !now.running) await cont(qmp);
  return (await queryRunState(qmp)).status;
}

/** Waits (bounded) until QEMU's migration has ended one way or another. */
async function settled(qmp: QmpClient): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const status = String((await qmp.execute<{ status?: unknown }>('query-migrate')).status ?? 'none');
    if (!UNSETTLED.has(status)) return;
    if (status === 'pre-switchover' || status === 'active') await migrateCancel(qmp).catch(() => undefined);
    await sleep(100);
  }
}

/** After GO: nothing resumes; the mark goes and the command says where the domain may run. */
async function keepPaused(
  store: DomainStore,
  d: DomainRecord,
  m: MigrationMark,
): Promise<string | undefined> {
  await removeSockets(store, d);
  const claimed = await store
    .update(d.id, (r) => (sameMark(r, m) ? withoutMark(r) : r))
    .catch(() => undefined);
  if (claimed === undefined || claimed.migration !== undefined) return undefined;
  return (
    `domain '${d.name}' (id ${d.id}): the xl ${m.command ?? 'migrate'} of it to ${m.host} (pid ${m.pid}) went away after the point of no return; ` +
    `the domain may be running on ${m.host}; this copy is kept paused and will not be resumed: check ${m.command === 'upgrade' ? "'xl list'" : m.host}, then destroy one copy`
  );
}

/** The dead sender's sockets in the domain's dir (xl's own paths; the QEMU's are left alone). */
async function removeSockets(store: DomainStore, d: DomainRecord): Promise<void> {
  const p = store.paths(d.id);
  for (const f of [p.migrationControl, p.migrationSocket, p.nbdSocket]) await rm(f, { force: true });
  for (const d of [p.nbdTls, p.migrationTls]) await rm(d, { recursive: true, force: true });
}
