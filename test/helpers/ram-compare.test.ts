import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compareRamDumps, PAGE_SIZE } from './ram-compare.js';
import { tempDir } from './temp-dir.js';
import { cleanupAfterEach } from './cleanup-registry.js';

cleanupAfterEach();

describe('compareRamDumps', () => {
  it('finds the pages that differ, with their addresses and byte counts', async () => {
    const dir = tempDir('ramcmp-');
    const a = Buffer.alloc(3 * 1024 * 1024, 7);
    const b = Buffer.from(a);
    b[5 * PAGE_SIZE + 10] = 1;
    b[5 * PAGE_SIZE + 11] = 2;
    b[(1 << 20) + 100 * PAGE_SIZE] = 3;
    await writeFile(path.join(dir, 'a'), a);
    await writeFile(path.join(dir, 'b'), b);
    await writeFile(path.join(dir, 'c'), a);
    const diff = await compareRamDumps(path.join(dir, 'a'), path.join(dir, 'b'));
    expect(diff).toEqual({
      sizes: [a.length, a.length],
      count: 2,
      pages: [
        { address: 5 * PAGE_SIZE, bytes: 2 },
        { address: (1 << 20) + 100 * PAGE_SIZE, bytes: 1 },
      ],
    });
    expect(await compareRamDumps(path.join(dir, 'a'), path.join(dir, 'c'))).toEqual({
      sizes: [a.length, a.length],
      pages: [],
      count: 0,
    });
  });
});
