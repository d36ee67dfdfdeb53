/**
 * A domain whose QEMU died is never shown as running: every xl command first reaps such
 * domains (removes their state) and reports them.
 */
import { markedIdentity, removeIdentified, removeMarkerOf } from '../host/file-identity.js';
import { isProcessAlive } from '../host/process-info.js';
import type { DomainRecord } from '../store/domain-record.js';
import { keptLogs, type DomainLogs } from '../store/domain-logs.js';
import type { DomainStore } from '../store/domain-store.js';
import { killQemu } from './destroy.js';
import { isQemuAlive, lastQemuLogLine } from './liveness.js';
import { withQmp } from './qmp.js';

export interface ReapedDomain {
  record: DomainRecord;
  reason: string;
  /** Where its logs are kept (they outlive it). */
  logs?: DomainLogs;
}

export interface ReapResult {
  live: DomainRecord[];
  reaped: ReapedDomain[];
  /** Dead-owner domains not reaped because QEMU may hold the guest's only running copy. */
  kept: ReapedDomain[];
}

/** Why a record is dead, or undefined when it is alive (or still being created). */
function deathReason(d: DomainRecord): string | undefined {
  if (d.status === 'creating' && d.ownerPid !== undefined && isProcessAlive(d.ownerPid)) return undefined;
  if (d.status === 'creating' && d.ownerPid !== undefined)
    return `the xl process creating it (pid ${d.ownerPid}) went away`;
  // A migration target belongs to its xl migrate-receive (or xl upgrade): without it, nobody
  // will ever finish it.
  if (d.status === 'incoming' && d.ownerPid !== undefined && !isProcessAlive(d.ownerPid))
    return `the xl ${d.receivedBy ?? 'migrate-receive'} receiving it (pid ${d.ownerPid}) went away`;
  if (!d.qemu) return 'it has no QEMU process';
  if (!isQemuAlive(d)) return `its QEMU process (pid ${d.qemu.pid}) has exited`;
  return undefined;
}

export async function reapDomains(store: DomainStore): Promise<ReapResult> {
  const live: DomainRecord[] = [];
  const reaped: ReapedDomain[] = [];
  const kept: ReapedDomain[] = [];
  for (const d of await store.list()) {
    let reason = deathReason(d);
    if (reason === undefined) {
      live.push(d);
      continue;
    }
    // Post-copy: the guest may run on this QEMU with part of its RAM still at the source; only
    // a QEMU that says it is not in post-copy may go.
    if (d.postcopy === true && d.qemu !== undefined && isQemuAlive(d)) {
      const state = await postcopyState(store, d);
      if (state !== 'not in post-copy') {
        kept.push({ record: d, reason: `${reason}, but its QEMU ${state}` });
        live.push(d);
        continue;
      }
    }
    // An abandoned create may have left a QEMU behind: it is ours to stop, and waited for as
    // destroy does ("cleaned up" must mean it is gone). Best effort: the state goes either way.
    // A process the record names but xl cannot prove it started is left alone (liveness.ts).
    const refused = await killQemu(store.paths(d.id), d).catch(() => undefined);
    if (refused !== undefined) reason += `; left its process alone: ${refused}`;
    const unproven = await removeCreatedDisks(d);
    if (unproven.length > 0)
      reason += `; left ${unproven.join(', ')} in place: not proven to be the image${unproven.length > 1 ? 's' : ''} xl created`;
    const last = await lastQemuLogLine(store, d.id);
    if (last !== undefined) reason += ` (last QEMU message: ${last})`;
    const logs = await keptLogs(store.paths(d.id));
    // Re-checked under the lock: another xl may have just finished creating it.
    const removed = await store.remove(
      d.id,
      (current) => current !== undefined && deathReason(current) !== undefined,
    );
    if (removed) reaped.push({ record: d, reason, ...(logs === undefined ? {} : { logs }) });
    else {
      const current = await store.get(d.id);
      if (current) live.push(current);
    }
  }
  return { live, reaped, kept };
}

/**
 * Targets a dead migrate-receive -q created: half-copied disks nobody will finish. Only a path
 * that still names the file xl made (createdFiles, or its creation marker when the receiver
 * died before recording it) goes; returns the others.
 */
async function removeCreatedDisks(d: DomainRecord): Promise<string[]> {
  const unproven: string[] = [];
  for (const f of d.createdDisks ?? []) {
    const made = d.createdFiles?.find((m) => m.path === f) ?? (await markedIdentity(f));
    const removed = made !== undefined && (await removeIdentified(made).catch(() => false));
    // Proven xl's: its creation marker goes too, if it names this image (a marker left
    // without its image proves nothing by itself; one naming another file is not ours to judge).
    if (removed) await removeMarkerOf(made).catch(() => false);
    else unproven.push(f);
  }
  return unproven;
}

/** What QEMU says of its migration, briefly (a QEMU blocked in post-copy may not answer at all). */
async function postcopyState(store: DomainStore, d: DomainRecord): Promise<string> {
  try {
    return await withQmp(
      store,
      d,
      async (qmp) => {
        const status = String(
          (await qmp.execute<{ status?: unknown }>('query-migrate', undefined, { timeoutMs: 2_000 })).status,
        );
        return status.startsWith('postcopy') ? `is in ${status}` : 'not in post-copy';
      },
      { connectTimeoutMs: 2_000, handshakeTimeoutMs: 2_000 },
    );
  } catch {
    return 'does not answer (blocked in post-copy?)';
  }
}

/** A domain the reaper would have removed but kept: what to do about it. */
export function formatKept(r: ReapedDomain): string {
  return `domain '${r.record.name}' (id ${r.record.id}) is kept: ${r.reason}; it may hold the only running copy of the guest: complete it with 'xl migrate --resume' from the source, or 'xl destroy' it`;
}

export function formatReaped(r: ReapedDomain): string {
  const logs = r.logs === undefined ? '' : `; its logs are kept: ${r.logs.qemu}, ${r.logs.console}`;
  return `domain '${r.record.name}' (id ${r.record.id}) is gone: ${r.reason}; its state was cleaned up${logs}`;
}
