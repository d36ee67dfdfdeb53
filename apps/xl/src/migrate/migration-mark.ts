/**
 * The mark a sending xl leaves in its domain's record (DomainRecord.migration) for as long as it
 * runs: should it be killed, the next xl command on this host finds the mark with its process
 * gone and finishes what it would have done (recover-migration.ts).
 */
import type { DomainRecord, MigrationMark } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { readProcStat } from '../host/process-info.js';

/** This process, as a mark names it. */
function self(): { pid: number; startTime: number } {
  return { pid: process.pid, startTime: readProcStat(process.pid)?.startTime ?? 0 };
}

/** Before anything changes: who migrates the domain, where to, and how it was. */
export async function markMigration(
  store: DomainStore,
  domain: DomainRecord,
  host: string,
  pastGo = false,
  command?: 'upgrade',
): Promise<void> {
  const mark: MigrationMark = {
    ...self(),
    host,
    ...(command === undefined ? {} : { command }),
    wasName: domain.name,
    wasStatus: domain.status,
    wasRunning: domain.status === 'running',
    pastGo,
  };
  await store.update(domain.id, (r) => ({ ...r, migration: mark }));
}

/** A change to this process's own mark (none when the record carries another's or none). */
export function updateMark(r: DomainRecord, change: Partial<MigrationMark>): DomainRecord {
  const m = r.migration;
  if (m === undefined || m.pid !== process.pid) return r;
  return { ...r, migration: { ...m, ...change } };
}

/** The record without a mark. */
export function withoutMark(r: DomainRecord): DomainRecord {
  const { migration: _mark, ...rest } = r;
  return rest;
}

/** When the sending xl ends, however: its mark goes (the record may be gone already). */
export async function clearMigrationMark(store: DomainStore, id: number): Promise<void> {
  if ((await store.get(id))?.migration?.pid !== process.pid) return;
  await store
    .update(id, (r) => (r.migration?.pid === process.pid ? withoutMark(r) : r))
    .catch(() => undefined);
}
