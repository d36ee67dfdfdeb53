/**
 * Memory this host can give a new domain, as Xen's xl checks free memory before it builds one:
 * MemAvailable (free memory plus what the kernel can reclaim without swapping), not MemFree.
 * That is what os.freemem() returns on Linux since libuv 1.45 (Node 20.3).
 */
import os from 'node:os';

export function availableMemoryMiB(): number {
  return Math.floor(os.freemem() / 2 ** 20);
}
