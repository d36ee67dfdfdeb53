/**
 * This host's identity for the disk-onto-itself check: the kernel's boot id. Two xl
 * processes with the same boot id share one kernel, so equal (st_dev, st_ino) means the very
 * same file, whatever network namespace or path spelling each side uses.
 */
import { readFile } from 'node:fs/promises';

export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

export async function readHostId(file = BOOT_ID_FILE): Promise<string> {
  const id = (await readFile(file, 'utf8').catch(() => '')).trim();
  return id === '' ? 'unknown' : id;
}
