/** Is a domain's QEMU still there? And what did it leave behind when it went? */
import { readFile } from 'node:fs/promises';
import { isProcessAlive } from '../host/process-info.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';

export function isQemuAlive(record: DomainRecord): boolean {
  return record.qemu !== undefined && isProcessAlive(record.qemu.pid, record.qemu.startTime);
}

/** The last non-empty line QEMU wrote to its log, for error messages. */
export async function lastQemuLogLine(store: DomainStore, id: number): Promise<string | undefined> {
  const text = await readFile(store.paths(id).qemuLog, 'utf8').catch(() => '');
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const last = lines.at(-1);
  return last === undefined ? undefined : last.slice(0, 500);
}
