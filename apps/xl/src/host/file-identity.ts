/**
 * Which file a path named when xl created it: device and inode, taken from the file xl itself
 * made. A path read back from a record is only data; xl removes it only while it still names
 * that same regular file, so a record cannot make it delete anything else.
 */
import { lstat, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

export interface FileIdentity {
  path: string;
  /** st_dev and st_ino as decimal strings (inodes may not fit a double). */
  dev: string;
  ino: string;
}

/** The identity of the regular file at `file` (not following a symlink); undefined if there is none. */
export async function identifyFile(file: string): Promise<FileIdentity | undefined> {
  const st = await lstat(file, { bigint: true }).catch(() => undefined);
  if (st === undefined || !st.isFile()) return undefined;
  return { path: file, dev: String(st.dev), ino: String(st.ino) };
}

export function isFileIdentity(v: unknown): v is FileIdentity {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.path === 'string' &&
    typeof o.dev === 'string' &&
    /^\d{1,20}$/.test(o.dev) &&
    typeof o.ino === 'string' &&
    /^\d{1,20}$/.test(o.ino)
  );
}

/**
 * Removes `id.path` if it still is the file identified; true when it was removed or is already
 * gone, false when the path now names something else (left alone).
 */
export async function removeIdentified(id: FileIdentity): Promise<boolean> {
  const st = await lstat(id.path, { bigint: true }).catch(() => undefined);
  if (st === undefined) return true;
  if (!st.isFile() || String(st.dev) !== id.dev || String(st.ino) !== id.ino) return false;
  await rm(id.path, { force: true });
  return true;
}

/**
 * The marker beside an image a `-q` receiver created, `.NAME.xl-target`, holding the image's
 * device and inode: it lets --reuse-target prove xl made the image, and goes with the image.
 */
export function creationMarker(image: string): string {
  return path.join(path.dirname(image), `.${path.basename(image)}.xl-target`);
}

/**
 * The identity of `image` when its creation marker proves xl made it: the image a regular file
 * with one link, the marker a regular file, both owned by this user, the marker naming the
 * image's device and inode. For a receiver that died before its record held the identity.
 */
export async function markedIdentity(image: string): Promise<FileIdentity | undefined> {
  const uid = process.geteuid?.();
  const st = await lstat(image).catch(() => undefined);
  const m = await lstat(creationMarker(image)).catch(() => undefined);
  if (st === undefined || m === undefined || !st.isFile() || !m.isFile() || st.nlink !== 1) return undefined;
  if (uid !== undefined && (st.uid !== uid || m.uid !== uid)) return undefined;
  if (m.size > 64) return undefined;
  const text = await readFile(creationMarker(image), 'utf8').catch(() => '');
  if (text !== `${st.dev}:${st.ino}\n`) return undefined;
  return identifyFile(image);
}

/**
 * Removes the creation marker beside `id.path` when it names that very image (`id`'s device
 * and inode): a marker goes only with the image it proves. A marker naming another file, or
 * not a plain file of this user's, is left alone. True when removed or already gone.
 */
export async function removeMarkerOf(id: FileIdentity): Promise<boolean> {
  const marker = creationMarker(id.path);
  const m = await lstat(marker).catch(() => undefined);
  if (m === undefined) return true;
  const uid = process.geteuid?.();
  if (!m.isFile() || m.size > 64 || (uid !== undefined && m.uid !== uid)) return false;
  if ((await readFile(marker, 'utf8').catch(() => '')) !== `${id.dev}:${id.ino}\n`) return false;
  await rm(marker, { force: true });
  return true;
}
