import { describe, expect, it } from 'vitest';
import { BLOCK_MAGIC, BLOCK_SIZE, checkBlock, encodeBlock, verifyDiskBuffer } from './disk-pattern.js';

function disk(generations: number[]): Buffer {
  return Buffer.concat(
    generations.map((gen, block) => (gen === 0 ? Buffer.alloc(BLOCK_SIZE) : encodeBlock(block, gen))),
  );
}

describe('disk block pattern', () => {
  it('lays out magic, block number, generation and a payload that depends on both', () => {
    const b = encodeBlock(7, 3);
    expect(b.length).toBe(BLOCK_SIZE);
    expect(b.readUInt32LE(0)).toBe(BLOCK_MAGIC);
    expect(b.readBigUInt64LE(8)).toBe(7n);
    expect(b.readBigUInt64LE(16)).toBe(3n);
    expect(encodeBlock(7, 4).subarray(32, 64).equals(b.subarray(32, 64))).toBe(false);
    expect(encodeBlock(8, 3).subarray(32, 64).equals(b.subarray(32, 64))).toBe(false);
    expect(checkBlock(b, 7)).toEqual({ generation: 3 });
  });

  it('accepts what one sweeping writer leaves: g…g then g-1…g-1, or a never-written tail after g=1', () => {
    expect(verifyDiskBuffer(disk([5, 5, 5, 5]))).toEqual({ ok: true, blocks: 4, newest: 5, boundary: 4 });
    expect(verifyDiskBuffer(disk([5, 5, 4, 4]))).toEqual({ ok: true, blocks: 4, newest: 5, boundary: 2 });
    expect(verifyDiskBuffer(disk([1, 1, 0, 0]))).toEqual({ ok: true, blocks: 4, newest: 1, boundary: 2 });
    expect(verifyDiskBuffer(disk([0, 0, 0]))).toEqual({ ok: true, blocks: 3, newest: 0, boundary: 3 });
  });

  it('rejects lost, stale or out-of-order generations', () => {
    expect(verifyDiskBuffer(disk([5, 4, 5, 4]))).toMatchObject({
      ok: false,
      block: 2,
      reason: 'generation 5 after 4',
    });
    expect(verifyDiskBuffer(disk([5, 5, 3, 3]))).toMatchObject({
      ok: false,
      block: 2,
      reason: 'generation 3 after 5',
    });
    expect(verifyDiskBuffer(disk([6, 5, 4]))).toMatchObject({
      ok: false,
      block: 2,
      reason: 'generation 4 after 5',
    });
    expect(verifyDiskBuffer(disk([2, 0]))).toMatchObject({
      ok: false,
      block: 1,
      reason: 'generation 0 after 2',
    });
  });

  it('detects a flipped bit, a torn block, a misplaced block and foreign data', () => {
    const flipped = disk([3, 3, 3]);
    flipped[BLOCK_SIZE + 100]! ^= 1;
    expect(verifyDiskBuffer(flipped)).toMatchObject({ ok: false, block: 1, reason: 'bad-checksum' });

    const torn = disk([3, 3, 3]);
    encodeBlock(2, 4).copy(torn, 2 * BLOCK_SIZE, 0, 2048);
    expect(verifyDiskBuffer(torn)).toMatchObject({ ok: false, block: 2, reason: 'bad-checksum' });

    const swapped = disk([3, 3, 3]);
    encodeBlock(0, 3).copy(swapped, BLOCK_SIZE);
    expect(verifyDiskBuffer(swapped)).toMatchObject({ ok: false, block: 1, reason: 'wrong-block 0' });

    const foreign = disk([3, 3]);
    foreign.fill(0xab, 0, BLOCK_SIZE);
    expect(verifyDiskBuffer(foreign)).toMatchObject({ ok: false, block: 0, reason: 'bad-magic' });
  });
});
