/**
 * Memory this host can give a new domain: MemAvailable from /proc/meminfo (free memory plus
 * what the kernel can reclaim without swapping), as Xen's xl checks free memory before it
 * builds a domain. os.freemem() (MemFree only) is the fallback where meminfo is unreadable.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** MemAvailable in MiB from /proc/meminfo text, or undefined when the line is missing. */
export function parseMemAvailableMiB(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  return m?.[1] === undefined ? undefined : Math.floor(Number(m[1]) / 1024);
}

export async function availableMemoryMiB(meminfoPath = '/proc/meminfo'): Promise<number> {
  const text = await readFile(meminfoPath, 'utf8').catch(() => '');
  return parseMemAvailableMiB(text) ?? Math.floor(os.freemem() / 1024 ** 2);
}
