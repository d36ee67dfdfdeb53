/**
 * Receiver side of the plan: where each target goes, the refusals (a disk onto itself, an
 * existing target without --reuse-target, two disks onto one path), the free-space check,
 * then creating the targets (same format and virtual size, sparse) and removing exactly the
 * ones created here when the migration fails.
 */
import { constants } from 'node:fs';
import { access, open, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { DiskPlan, PlannedDisk } from '@xlkit/stream';
import { formatBytes } from '../progress/format.js';
import { MirrorError } from './mirror-error.js';

export interface TargetDisk {
  disk: PlannedDisk;
  /** Path of the target image on this host. */
  target: string;
  /** Whether the target exists already (reused with --reuse-target). */
  exists: boolean;
}

/** Slack per target on top of the source allocation (qcow2 metadata, filesystem rounding). */
export const SPACE_SLACK = 64 * 1024 * 1024;

export function targetPath(plan: DiskPlan, disk: PlannedDisk): string {
  if (plan.targetDir === undefined) return disk.path;
  return path.join(plan.targetDir, path.basename(disk.path));
}

async function exists(p: string): Promise<boolean> {
  return access(p, constants.F_OK).then(
    () => true,
    () => false,
  );
}

/** Every check that needs no change on this host; throws MirrorError('refused' | 'target'). */
export async function resolveTargets(plan: DiskPlan, hostId: string): Promise<TargetDisk[]> {
  const out: TargetDisk[] = [];
  const seen = new Map<string, string>();
  if (plan.targetDir !== undefined) {
    if (!path.isAbsolute(plan.targetDir))
      throw new MirrorError(
        'refused',
        `--target-dir must be an absolute path on the receiver, got '${plan.targetDir}'`,
      );
    const st = await stat(plan.targetDir).catch(() => undefined);
    if (!st?.isDirectory())
      throw new MirrorError('target', `target directory ${plan.targetDir} does not exist on the receiver`);
  }
  for (const disk of plan.disks) {
    const target = targetPath(plan, disk);
    if (!path.isAbsolute(target))
      throw new MirrorError('refused', `disk ${disk.id}: target path '${target}' is not absolute`);
    const other = seen.get(target);
    if (other !== undefined)
      throw new MirrorError('refused', `disks ${other} and ${disk.id} would both be mirrored onto ${target}`);
    seen.set(target, disk.id);
    const st = await stat(target).catch(() => undefined);
    const sameHost = hostId === plan.hostId;
    if (
      sameHost &&
      (target === disk.path || (st !== undefined && st.dev === disk.dev && st.ino === disk.ino))
    ) {
      throw new MirrorError(
        'refused',
        `refusing to mirror disk ${disk.id} onto itself: ${target} is the file the source domain is using (same host); give --target-dir`,
      );
    }
    if (st !== undefined && !plan.reuseTarget) {
      throw new MirrorError(
        'refused',
        `target for disk ${disk.id} already exists on the receiver: ${target} (remove it, or pass --reuse-target to overwrite it)`,
      );
    }
    if (st !== undefined && !st.isFile())
      throw new MirrorError('refused', `target for disk ${disk.id} is not a regular file: ${target}`);
    if (st === undefined && !(await exists(path.dirname(target)))) {
      throw new MirrorError(
        'target',
        `directory ${path.dirname(target)} for disk ${disk.id} does not exist on the receiver`,
      );
    }
    out.push({ disk, target, exists: st !== undefined });
  }
  await checkFreeSpace(out);
  return out;
}

/** Each filesystem must hold every new target's source allocation plus slack. */
export async function checkFreeSpace(targets: readonly TargetDisk[]): Promise<void> {
  const need = new Map<string, { bytes: number; ids: string[]; dir: string }>();
  for (const t of targets) {
    if (t.exists) continue;
    const dir = path.dirname(t.target);
    const st = await stat(dir);
    const key = String(st.dev);
    const e = need.get(key) ?? { bytes: 0, ids: [], dir };
    e.bytes += t.disk.allocation + SPACE_SLACK;
    e.ids.push(t.disk.id);
    need.set(key, e);
  }
  for (const e of need.values()) {
    const fs = await statfs(e.dir);
    const free = fs.bavail * fs.bsize;
    if (free < e.bytes) {
      throw new MirrorError(
        'target',
        `not enough free space for disk(s) ${e.ids.join(', ')} in ${e.dir}: need ${formatBytes(e.bytes)} (allocation plus ${formatBytes(SPACE_SLACK)} slack each), ${formatBytes(free)} free`,
      );
    }
  }
}

/** Creates the missing targets (sparse, same format and size); returns the ones created. */
export async function createTargets(targets: readonly TargetDisk[], qemuImg = 'qemu-img'): Promise<string[]> {
  const created: string[] = [];
  try {
    for (const t of targets) {
      if (t.exists) continue;
      // Claim the name first (O_EXCL): a file that appeared since the check is never
      // overwritten, and only files this process made are ever removed.
      const claim = await open(t.target, 'wx').catch((err: NodeJS.ErrnoException) => {
        throw new MirrorError(
          'refused',
          `target for disk ${t.disk.id} appeared meanwhile on the receiver: ${t.target} (${err.code ?? err.message})`,
        );
      });
      await claim.close();
      created.push(t.target);
      const r = await execa(
        qemuImg,
        ['create', '-q', '-f', t.disk.format, t.target, String(t.disk.virtualSize)],
        { reject: false, stdin: 'ignore' },
      );
      if (r.failed) {
        throw new MirrorError(
          'target',
          `creating target ${t.target} for disk ${t.disk.id} failed: ${String(r.stderr).trim().split('\n').at(-1) || (r.shortMessage ?? '').split('\n')[0] || 'qemu-img failed'}`,
        );
      }
    }
  } catch (err) {
    await removeTargets(created);
    throw err;
  }
  return created;
}

/** Removes targets this host created (never a reused one). */
export async function removeTargets(created: readonly string[]): Promise<void> {
  for (const p of created) await rm(p, { force: true }).catch(() => undefined);
}
