import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

// The guest's disk block format (tools/guest/README.md, tools/guest/xlkit-guest.c).
export const BLOCK_SIZE = 4096;
export const BLOCK_MAGIC = 0x424b4c58;
export const BLOCK_VERSION = 1;
const PAYLOAD_OFFSET = 32;
const CRC_OFFSET = BLOCK_SIZE - 4;

function blockSeed(block: number, generation: number): number {
  let s = (Math.imul(block >>> 0, 2654435761) ^ Math.imul(generation >>> 0, 0x85ebca6b) ^ 0xa5a5a5a5) >>> 0;
  s = (s ^ (s >>> 16)) >>> 0;
  s = Math.imul(s, 0x7feb352d) >>> 0;
  s = (s ^ (s >>> 15)) >>> 0;
  s = Math.imul(s, 0x846ca68b) >>> 0;
  s = (s ^ (s >>> 16)) >>> 0;
  return s === 0 ? 1 : s;
}

/** The exact bytes the guest writes for `block` in pass `generation`. */
export function encodeBlock(block: number, generation: number): Buffer {
  const b = Buffer.alloc(BLOCK_SIZE);
  let x = blockSeed(block, generation);
  b.writeUInt32LE(BLOCK_MAGIC, 0);
  b.writeUInt32LE(BLOCK_VERSION, 4);
  b.writeBigUInt64LE(BigInt(block), 8);
  b.writeBigUInt64LE(BigInt(generation), 16);
  b.writeUInt32LE(x, 24);
  for (let off = PAYLOAD_OFFSET; off < CRC_OFFSET; off += 4) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b.writeUInt32LE(x, off);
  }
  b.writeUInt32LE(crc32(b.subarray(0, CRC_OFFSET)), CRC_OFFSET);
  return b;
}

/** Checks one block alone: its generation (0 = all zero, never written) or why it is bad. */
export function checkBlock(b: Buffer, block: number): { generation: number } | { reason: string } {
  if (b.every((byte) => byte === 0)) return { generation: 0 };
  if (b.readUInt32LE(0) !== BLOCK_MAGIC || b.readUInt32LE(4) !== BLOCK_VERSION)
    return { reason: 'bad-magic' };
  if (crc32(b.subarray(0, CRC_OFFSET)) !== b.readUInt32LE(CRC_OFFSET)) return { reason: 'bad-checksum' };
  const stored = Number(b.readBigUInt64LE(8));
  if (stored !== block) return { reason: `wrong-block ${stored}` };
  const generation = Number(b.readBigUInt64LE(16));
  if (generation === 0) return { reason: 'bad-generation' };
  if (!encodeBlock(block, generation).equals(b)) return { reason: 'bad-pattern' };
  return { generation };
}

export type DiskVerifyResult =
  | {
      ok: true;
      blocks: number;
      /** Generation of block 0 (the pass in progress or last completed; 0 = never written). */
      newest: number;
      /** First block still carrying the previous generation; === blocks when there is none. */
      boundary: number;
    }
  | { ok: false; blocks: number; block: number; reason: string };

/**
 * Verifies a disk's contents with the guest's rules: every block valid or all zero, and
 * generations along the disk `g … g, g-1 … g-1` (never increasing, one step down by one).
 * Same result and reasons as the guest's `xlkit-disk-verify` line.
 */
export function verifyDiskBuffer(disk: Buffer): DiskVerifyResult {
  const blocks = Math.floor(disk.length / BLOCK_SIZE);
  let prev = 0;
  let newest = 0;
  let boundary = blocks;
  for (let i = 0; i < blocks; i++) {
    const checked = checkBlock(disk.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE), i);
    if ('reason' in checked) return { ok: false, blocks, block: i, reason: checked.reason };
    const gen = checked.generation;
    if (i === 0) newest = gen;
    else if (gen !== prev) {
      if (gen + 1 !== prev || boundary !== blocks) {
        return { ok: false, blocks, block: i, reason: `generation ${gen} after ${prev}` };
      }
      boundary = i;
    }
    prev = gen;
  }
  return { ok: true, blocks, newest, boundary };
}

/**
 * Verifies a raw disk image file (the first `limitMiB` of it when given, like
 * `xlkit.diskmb`). For qcow2, convert first: `qemu-img convert -O raw`.
 */
export async function verifyDiskImage(file: string, limitMiB?: number): Promise<DiskVerifyResult> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const bytes = limitMiB === undefined ? size : Math.min(size, limitMiB * 1024 * 1024);
    const disk = Buffer.alloc(bytes - (bytes % BLOCK_SIZE));
    const { bytesRead } = await handle.read(disk, 0, disk.length, 0);
    if (bytesRead !== disk.length) throw new Error(`short read of ${file}: ${bytesRead} of ${disk.length}`);
    return verifyDiskBuffer(disk);
  } finally {
    await handle.close();
  }
}
