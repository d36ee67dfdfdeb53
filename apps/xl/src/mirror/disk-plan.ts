/**
 * The disk plan of `xl migrate -q`: which of the domain's disks are mirrored (writable local
 * images) and which are not (cdroms, read-only media), with format, virtual size, allocation
 * and file identity. Printed before phase 2 starts and sent to the receiver as DISK_PLAN.
 */
import { stat } from 'node:fs/promises';
import type { DiskInfo, DiskPlan, PlannedDisk } from '@xlkit/stream';
import type { DiskSpec } from '../config/disk-spec.js';
import { MirrorError } from './mirror-error.js';
import { formatBytes } from '../progress/format.js';

export interface SkippedDisk {
  id: string;
  reason: string;
}

/** Everything in the plan but its disks (host identity, transport, flags, target dir). */
export type PlanOptions = Omit<DiskPlan, 'disks'>;

export interface BuiltPlan {
  plan: DiskPlan;
  skipped: SkippedDisk[];
}

/** Which disks are copied; `info` is phase one's DOMAIN_INFO disks (sizes from QEMU). */
export async function buildDiskPlan(
  disks: readonly DiskSpec[],
  info: readonly DiskInfo[],
  o: PlanOptions,
): Promise<BuiltPlan> {
  const planned: PlannedDisk[] = [];
  const skipped: SkippedDisk[] = [];
  for (const d of disks) {
    if (d.cdrom) {
      skipped.push({ id: d.vdev, reason: 'cdrom' });
      continue;
    }
    if (d.readOnly) {
      skipped.push({ id: d.vdev, reason: 'read-only' });
      continue;
    }
    if (d.shared === true) {
      skipped.push({ id: d.vdev, reason: 'shared' });
      continue;
    }
    if (d.target === undefined) continue;
    const i = info.find((x) => x.id === d.vdev);
    if (!i) throw new MirrorError('mirror', `QEMU reports no size for disk ${d.vdev}`);
    const st = await stat(d.target).catch((err: unknown) => {
      throw new MirrorError('mirror', `cannot stat disk ${d.vdev} (${d.target}): ${(err as Error).message}`, {
        cause: err,
      });
    });
    planned.push({
      id: d.vdev,
      format: d.format,
      virtualSize: i.virtualSize,
      allocation: st.blocks * 512,
      path: d.target,
      dev: st.dev,
      ino: st.ino,
    });
  }
  if (planned.length === 0)
    throw new MirrorError('refused', 'migrate -q: the domain has no writable disk to mirror');
  return { plan: { ...o, disks: planned }, skipped };
}

/** Human-readable plan, one line per disk. */
export function formatDiskPlan(b: BuiltPlan): string[] {
  const p = b.plan;
  const mode = p.syncWrites ? 'write-blocking (--sync-writes)' : 'background copy';
  const lines = [
    `disk plan: ${p.disks.length} disk(s) mirrored over ${p.transport === 'tunnel' ? 'the migration pipe (tunnel)' : 'a direct NBD connection'}, ${mode}`,
  ];
  for (const d of p.disks) {
    const where = p.targetDir !== undefined ? `into ${p.targetDir}` : 'to the same path';
    lines.push(
      `  ${d.id}: mirror ${d.format} ${formatBytes(d.virtualSize)} (${formatBytes(d.allocation)} allocated) ${d.path} ${where}`,
    );
  }
  for (const s of b.skipped) lines.push(`  ${s.id}: not copied (${s.reason})`);
  return lines;
}
