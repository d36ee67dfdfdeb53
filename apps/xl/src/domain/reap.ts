/**
 * A domain whose QEMU died is never shown as running: every xl command first reaps such
 * domains (removes their state) and reports them.
 */
import { rm } from 'node:fs/promises';
import { isProcessAlive } from '../host/process-info.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { killQemu } from './destroy.js';
import { isQemuAlive, lastQemuLogLine } from './liveness.js';

export interface ReapedDomain {
  record: DomainRecord;
  reason: string;
}

export interface ReapResult {
  live: DomainRecord[];
  reaped: ReapedDomain[];
}

/** Why a record is dead, or undefined when it is alive (or still being created). */
function deathReason(d: DomainRecord): string | undefined {
  if (d.status === 'creating' && d.ownerPid !== undefined && isProcessAlive(d.ownerPid)) return undefined;
  if (d.status === 'creating' && d.ownerPid !== undefined)
    return `the xl process creating it (pid ${d.ownerPid}) went away`;
  // A migration target belongs to its xl migrate-receive: without it, nobody will ever finish it.
  if (d.status === 'incoming' && d.ownerPid !== undefined && !isProcessAlive(d.ownerPid))
    return `the xl migrate-receive receiving it (pid ${d.ownerPid}) went away`;
  if (!d.qemu) return 'it has no QEMU process';
  if (!isQemuAlive(d)) return `its QEMU process (pid ${d.qemu.pid}) has exited`;
  return undefined;
}

export async function reapDomains(store: DomainStore): Promise<ReapResult> {
  const live: DomainRecord[] = [];
  const reaped: ReapedDomain[] = [];
  for (const d of await store.list()) {
    let reason = deathReason(d);
    if (reason === undefined) {
      live.push(d);
      continue;
    }
    // An abandoned create may have left a QEMU behind: it is ours to stop, and waited for as
    // destroy does ("cleaned up" must mean it is gone). Best effort: the state goes either way.
    await killQemu(d).catch(() => undefined);
    // Targets a dead migrate-receive -q created: half-copied disks nobody will finish.
    for (const f of d.createdDisks ?? []) await rm(f, { force: true }).catch(() => undefined);
    const last = await lastQemuLogLine(store, d.id);
    if (last !== undefined) reason += ` (last QEMU message: ${last})`;
    // Re-checked under the lock: another xl may have just finished creating it.
    const removed = await store.remove(
      d.id,
      (current) => current !== undefined && deathReason(current) !== undefined,
    );
    if (removed) reaped.push({ record: d, reason });
    else {
      const current = await store.get(d.id);
      if (current) live.push(current);
    }
  }
  return { live, reaped };
}

export function formatReaped(r: ReapedDomain): string {
  return `domain '${r.record.name}' (id ${r.record.id}) is gone: ${r.reason}; its state was cleaned up`;
}
