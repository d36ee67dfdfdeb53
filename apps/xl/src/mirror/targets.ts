/**
 * Receiver side of the plan: where each target goes, the refusals, the free-space check, then
 * creating the targets (same format and virtual size, sparse, mode 0600) and removing exactly
 * the ones created here when the migration fails.
 *
 * The sender is not trusted with this host's file system: every target lies inside the
 * receiver's target root (target-root.ts), named by the source image's plain base name; a
 * symlink is never followed or replaced; and an existing target is reused (--reuse-target)
 * only when xl created it: a marker beside it, `.NAME.xl-target`, holds the image's device and
 * inode, written when xl created the image.
 */
import { constants } from 'node:fs';
import { lstat, open, readFile, realpath, rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { DiskPlan, PlannedDisk } from '@xlkit/stream';
import { hostPathProblem } from '../config/config-schema.js';
import { creationMarker } from '../host/file-identity.js';
import { formatBytes } from '../progress/format.js';
import { MirrorError } from './mirror-error.js';
import { isInside } from './target-root.js';

export interface TargetDisk {
  disk: PlannedDisk;
  /** Path of the target image on this host. */
  target: string;
  /** Whether the target exists already (reused with --reuse-target). */
  exists: boolean;
}

/** Slack per target on top of the source allocation (qcow2 metadata, filesystem rounding). */
export const SPACE_SLACK = 64 * 1024 * 1024;

/** A target's file name: the source image's base name, plain (no dot first: markers live there). */
const IMAGE_NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,199}$/;

export function targetPath(plan: DiskPlan, disk: PlannedDisk): string {
  if (plan.targetDir === undefined) return disk.path;
  return path.join(plan.targetDir, path.basename(disk.path));
}

/** The marker that proves xl created `target`. */
export const markerPath = creationMarker;

const identity = (st: { dev: number; ino: number }) => `${st.dev}:${st.ino}\n`;

/** Whether xl created the image at `target` (its marker names this very file). */
async function createdByXl(target: string, st: { dev: number; ino: number; nlink: number; uid: number }) {
  const uid = process.geteuid?.() ?? st.uid;
  if (st.nlink !== 1 || st.uid !== uid) return false;
  const m = await lstat(markerPath(target)).catch(() => undefined);
  if (m === undefined || !m.isFile() || m.uid !== uid) return false;
  return (await readFile(markerPath(target), 'utf8').catch(() => '')) === identity(st);
}

/** Every check that needs no change on this host; throws MirrorError('refused' | 'target'). */
export async function resolveTargets(plan: DiskPlan, hostId: string, root: string): Promise<TargetDisk[]> {
  const out: TargetDisk[] = [];
  const seen = new Map<string, string>();
  const outside = (what: string) =>
    new MirrorError(
      'refused',
      `${what} is outside the receiver's target directory ${root} (give --target-dir inside it)`,
    );
  for (const disk of plan.disks) {
    const target = targetPath(plan, disk);
    const problem = hostPathProblem(target);
    if (problem !== undefined)
      throw new MirrorError('refused', `disk ${disk.id}: target path '${target}': ${problem}`);
    const name = path.basename(target);
    if (!IMAGE_NAME.test(name))
      throw new MirrorError('refused', `disk ${disk.id}: '${name}' is not a plain image file name`);
    const dir = path.dirname(target);
    if (!isInside(root, dir)) throw outside(`target ${target} for disk ${disk.id}`);
    const realDir = await realpath(dir).catch(() => undefined);
    if (realDir === undefined)
      throw new MirrorError('target', `directory ${dir} for disk ${disk.id} does not exist on the receiver`);
    if (!isInside(root, realDir)) throw outside(`${dir} (through a symlink)`);
    const other = seen.get(target);
    if (other !== undefined)
      throw new MirrorError('refused', `disks ${other} and ${disk.id} would both be mirrored onto ${target}`);
    seen.set(target, disk.id);
    const st = await lstat(target).catch(() => undefined);
    if (st?.isSymbolicLink())
      throw new MirrorError('refused', `target for disk ${disk.id} is a symlink: ${target}`);
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
    if (st !== undefined && !(await createdByXl(target, st)))
      throw new MirrorError(
        'refused',
        `target for disk ${disk.id} was not created by xl on the receiver: ${target} (--reuse-target only reuses images an earlier -q migration created)`,
      );
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
    if (fs.bavail * fs.bsize < e.bytes) {
      // Said to the sender: how much is needed, not how much this host has.
      throw new MirrorError(
        'target',
        `not enough free space for disk(s) ${e.ids.join(', ')} in ${e.dir}: need ${formatBytes(e.bytes)} (allocation plus ${formatBytes(SPACE_SLACK)} slack each), more than is free there`,
      );
    }
  }
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Creates the missing targets (sparse, same format and size, 0600); returns the ones created. */
export async function createTargets(targets: readonly TargetDisk[], qemuImg = 'qemu-img'): Promise<string[]> {
  const created: string[] = [];
  try {
    for (const t of targets) {
      if (t.exists) continue;
      // Claim the name first (O_EXCL, no symlink followed): a file that appeared since the
      // check is never overwritten, and only files this process made are ever removed.
      const claim = await open(t.target, CREATE, 0o600).catch((err: NodeJS.ErrnoException) => {
        throw new MirrorError(
          'refused',
          `target for disk ${t.disk.id} appeared meanwhile on the receiver: ${t.target} (${err.code ?? err.message})`,
        );
      });
      const st = await claim.stat();
      await claim.close();
      created.push(t.target);
      await writeFile(markerPath(t.target), identity(st), { mode: 0o600, flag: 'w' });
      const r = await execa(
        qemuImg,
        ['create', '-q', '-f', t.disk.format, t.target, String(t.disk.virtualSize)],
        {
          reject: false,
          stdin: 'ignore',
        },
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

/** Removes targets this host created (never a reused one), with their markers. */
export async function removeTargets(created: readonly string[]): Promise<void> {
  for (const p of created) {
    await rm(p, { force: true }).catch(() => undefined);
    await rm(markerPath(p), { force: true }).catch(() => undefined);
  }
}
