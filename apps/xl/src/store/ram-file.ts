/**
 * A shared-memory domain's RAM file (`memory_backing = "shared"`): QEMU maps it with
 * `memory-backend-file,share=on`, so a second QEMU on this host (`xl upgrade`) can map the
 * same pages and take the guest over without copying them. It lives under /dev/shm (a memfd
 * has no path another process can open), under a random name recorded with the domain, and
 * goes with the domain's record: the store removes it when it removes an owning record.
 *
 * During an upgrade both records name the file; only one owns it. The source owns it until
 * the new QEMU takes the domain over, so a failed upgrade never removes the RAM the source
 * still runs on.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';

export interface RamFile {
  path: string;
  /** This record's removal removes the file. */
  owner: boolean;
}

export const RAM_FILE_DIR = '/dev/shm';
const NAME = /^xlkit-ram-[0-9a-f]{32}$/;

/** A fresh, unused RAM file path for a new shared-memory domain. */
export function newRamFilePath(): string {
  return path.join(RAM_FILE_DIR, `xlkit-ram-${randomBytes(16).toString('hex')}`);
}

/** Whether `p` is a path xl makes for RAM files (a record naming anything else is not trusted). */
export function isRamFilePath(p: unknown): p is string {
  return typeof p === 'string' && path.dirname(p) === RAM_FILE_DIR && NAME.test(path.basename(p));
}

/** Removes the file an owning record names (a path xl did not make is left alone). */
export async function removeOwnedRamFile(file: RamFile | undefined): Promise<void> {
  if (file?.owner !== true || !isRamFilePath(file.path)) return;
  await rm(file.path, { force: true });
}
