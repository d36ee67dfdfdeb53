/**
 * CRC-32 (IEEE 802.3, the polynomial zlib and Xen use), chained like zlib's `crc32(data, prev)`.
 * The RAM path checksums every byte on both sides, so it uses Intel ISA-L's folded carry-less
 * multiply (src/crc32.c, linked against Debian's libisal2: about 50 GB/s here with VPCLMULQDQ,
 * against 5.8 GB/s for node:zlib's). Where the addon did not build (no libisal-dev, no
 * compiler), node:zlib computes the same values.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

export type Crc32 = (data: Uint8Array, previous?: number) => number;

interface Addon {
  crc32(data: Uint8Array, previous?: number): number;
}

function loadIsal(): Crc32 | undefined {
  try {
    return (createRequire(import.meta.url)('@xlkit/stream/crc32-addon') as Addon).crc32;
  } catch {
    return undefined;
  }
}

/** The zlib implementation: the fallback, and what tests pin `crc32` against. */
export const zlibCrc: Crc32 = (data, previous = 0) => zlibCrc32(data, previous);

// Loaded on first use (about 2.5 ms with libisal), not by every xl command that imports this library.
let chosen: Crc32 | undefined;
function implementation(): Crc32 {
  return (chosen ??= loadIsal() ?? zlibCrc);
}

/** Which implementation `crc32` uses. */
export function crc32Backend(): 'isa-l' | 'zlib' {
  return implementation() === zlibCrc ? 'zlib' : 'isa-l';
}

export const crc32: Crc32 = (data, previous) => implementation()(data, previous);
