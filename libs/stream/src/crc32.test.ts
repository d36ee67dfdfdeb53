import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Backend, zlibCrc } from './crc32.js';

describe('crc32', () => {
  it('uses ISA-L on this platform (the setup installs libisal-dev and builds the addon)', () => {
    expect(crc32Backend()).toBe('isa-l');
  });

  it('computes what zlib computes, for whole buffers and for chained slices at any alignment', () => {
    const data = randomBytes(1 << 20);
    expect(crc32(data)).toBe(zlibCrc(data));
    for (const cut of [0, 1, 7, 63, 4096, 999_999]) {
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(zlibCrc(data));
    }
    for (const [from, to] of [
      [3, 3],
      [5, 6],
      [13, 200],
      [1, (1 << 20) - 1],
    ] as const) {
      expect(crc32(data.subarray(from, to), 0x89abcdef)).toBe(zlibCrc(data.subarray(from, to), 0x89abcdef));
    }
  });

  it('matches the standard check value and stays unsigned', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(4, 0xff))).toBe(0xffffffff);
    expect(crc32(Buffer.alloc(0), 0x1234)).toBe(0x1234);
    expect(crc32(new Uint8Array([1, 2, 3]), 0xffffffff)).toBe(zlibCrc(new Uint8Array([1, 2, 3]), 0xffffffff));
  });

  it('the addon refuses what is not a Uint8Array, a previous crc that is not a number, and one outside 0..2^32-1', () => {
    const addon = createRequire(import.meta.url)('@xlkit/stream/crc32-addon') as {
      crc32: (...args: unknown[]) => number;
    };
    expect(() => addon.crc32('123456789')).toThrow(TypeError);
    expect(() => addon.crc32(new Uint16Array(4))).toThrow(TypeError);
    expect(() => addon.crc32()).toThrow(TypeError);
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => addon.crc32(Buffer.alloc(1), bad)).toThrow(RangeError);
    }
    // As node:zlib's crc32 does.
    expect(() => addon.crc32(Buffer.alloc(1), '7')).toThrow(TypeError);
  });
});
