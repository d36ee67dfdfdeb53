/**
 * An `xl save` that died (SIGKILL, a crash) leaves its domain stopped with a partial file
 * beside FILE. The next xl command on this host finishes the rollback the save would have
 * done: the partial file is removed, a migration still under way is cancelled, and the domain
 * runs again if it ran before the save.
 */
import { cont, migrateCancel } from '@xlkit/qmp';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { leavePostmigrate, withQmp } from '../domain/qmp.js';
import { notOurQemu } from '../domain/liveness.js';
import { isProcessAlive } from '../host/process-info.js';
import { removeIdentified } from '../host/file-identity.js';
import { withoutSaving } from './save-domain.js';
import { isPartialPath } from './atomic-file.js';

function abandoned(d: DomainRecord): boolean {
  return (
    d.status === 'saving' && d.saving !== undefined && d.ownerPid !== undefined && !isProcessAlive(d.ownerPid)
  );
}

/** Rolls back every abandoned save among `live`; returns one message per domain recovered. */
export async function recoverAbandonedSaves(
  store: DomainStore,
  live: readonly DomainRecord[],
): Promise<string[]> {
  const messages: string[] = [];
  for (const d of live.filter(abandoned)) {
    const saving = d.saving as NonNullable<DomainRecord['saving']>;
    // Only a file named as that save's partial file and still the one it made (same inode):
    // the record is data, not a licence to delete.
    const removed =
      isPartialPath(saving.partial.path, d.ownerPid as number) &&
      (await removeIdentified(saving.partial).catch(() => false));
    const notOurs = notOurQemu(store.paths(d.id), d);
    if (notOurs !== undefined) {
      messages.push(
        `domain '${d.name}' (id ${d.id}): the xl save of it (pid ${d.ownerPid}) went away; its QEMU is left alone: ${notOurs}`,
      );
      continue;
    }
    let state: 'running' | 'paused';
    try {
      state = await withQmp(store, d, async (qmp) => {
        await migrateCancel(qmp);
        const now = await leavePostmigrate(qmp);
        if (saving.wasRunning && !now.running) await cont(qmp);
        return saving.wasRunning ? 'running' : 'paused';
      });
    } catch (err) {
      messages.push(
        `domain '${d.name}' (id ${d.id}): the xl save of it (pid ${d.ownerPid}) went away, and its QEMU does not answer: ${err instanceof Error ? err.message : String(err)}`,
      );
      continue;
    }
    const claimed = await store.update(d.id, (r) =>
      abandoned(r) ? { ...withoutSaving(r), status: state } : r,
    );
    if (claimed.status === state && claimed.saving === undefined) {
      messages.push(
        `domain '${d.name}' (id ${d.id}): the xl save of it (pid ${d.ownerPid}) went away; ${removed ? 'partial file removed' : `${saving.partial.path} left in place: it is not the file xl made`}, domain ${state} again`,
      );
    }
  }
  return messages;
}
