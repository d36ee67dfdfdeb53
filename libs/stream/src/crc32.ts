/**
 * CRC-32 (IEEE 802.3, the polynomial zlib and Xen use), chained like zlib's `crc32(data, prev)`.
 * The RAM path checksums every byte on both sides, so it uses @node-rs/crc32's PCLMUL-folded
 * implementation (about 12 GB/s here, against 3-5 GB/s for node:zlib's); where that package
 * cannot load (a platform without its prebuilt binary), node:zlib computes the same values.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

export type Crc32 = (data: Uint8Array, previous?: number) => number;

interface NativeCrc {
  crc32(input: Uint8Array, initialState?: number): number;
}

function loadNative(): Crc32 | undefined {
  try {
    const native = createRequire(import.meta.url)('@node-rs/crc32') as NativeCrc;
    return (data, previous = 0) => native.crc32(data, previous);
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Which implementation `crc32` uses. */
export const crc32Backend: 'native' | 'zlib' = native === undefined ? 'zlib' : 'native';

/** The zlib implementation: the fallback, and what tests pin `crc32` against. */
export const zlibCrc: Crc32 = (data, previous = 0) => zlibCrc32(data, previous);

export const crc32: Crc32 = native ?? zlibCrc;
