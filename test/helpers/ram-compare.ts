/**
 * Compares two guest RAM dumps (XLKIT_FAULT=ram-dump) page by page: which 4 KiB pages differ,
 * and by how many bytes each. Reads both files in step, 1 MiB at a time.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { tempDir } from './temp-dir.js';

export const PAGE_SIZE = 4096;

export interface PageDiff {
  /** Guest physical address of the page. */
  address: number;
  /** Bytes that differ in it. */
  bytes: number;
}

export interface RamComparison {
  sizes: [number, number];
  /** Differing pages, the first `limit` of them. */
  pages: PageDiff[];
  /** All differing pages. */
  count: number;
}

export async function compareRamDumps(a: string, b: string, limit = 32): Promise<RamComparison> {
  const [fa, fb] = await Promise.all([open(a), open(b)]);
  try {
    const sizes: [number, number] = [(await fa.stat()).size, (await fb.stat()).size];
    const pages: PageDiff[] = [];
    let count = 0;
    const ba = Buffer.alloc(1 << 20);
    const bb = Buffer.alloc(1 << 20);
    const size = Math.min(...sizes);
    for (let pos = 0; pos < size; pos += ba.length) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, ba.length, pos), fb.read(bb, 0, bb.length, pos)]);
      const n = Math.min(ra.bytesRead, rb.bytesRead);
      if (ba.subarray(0, n).equals(bb.subarray(0, n))) continue;
      for (let p = 0; p < n; p += PAGE_SIZE) {
        const end = Math.min(p + PAGE_SIZE, n);
        if (ba.subarray(p, end).equals(bb.subarray(p, end))) continue;
        count += 1;
        if (pages.length >= limit) continue;
        let bytes = 0;
        for (let i = p; i < end; i++) if (ba[i] !== bb[i]) bytes += 1;
        pages.push({ address: pos + p, bytes });
      }
    }
    return { sizes, pages, count };
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/** Where a migration dumps the guest's final RAM (a temp dir of this test), and the env that asks for it. */
export interface RamDumps {
  env: { XLKIT_FAULT: string };
  /** Asserts both sides' dumps exist, are the same size and differ in no page; returns the comparison. */
  expectIdentical(): Promise<RamComparison>;
}

export function ramDumps(prefix = 'ram-dump-'): RamDumps {
  const dir = tempDir(prefix);
  return {
    env: { XLKIT_FAULT: `ram-dump:${dir}` },
    async expectIdentical() {
      const ram = await compareRamDumps(path.join(dir, 'source.ram'), path.join(dir, 'destination.ram'));
      expect(ram.sizes[0]).toBeGreaterThan(0);
      expect(ram.sizes[1]).toBe(ram.sizes[0]);
      expect(
        ram.pages,
        `${ram.count} page(s) differ between the source's final RAM and the destination's`,
      ).toEqual([]);
      return ram;
    },
  };
}
