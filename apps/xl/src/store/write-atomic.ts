/** Small state files (domain records, counters, caches) replaced whole: readers see the old or the new text, never a mix. */
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';

/** Writes `data` to a temporary name beside `file` and renames it into place. */
export async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, file);
}

/** writeAtomic without leaving the event loop's turn (small files only). */
export function writeAtomicNow(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, file);
}
