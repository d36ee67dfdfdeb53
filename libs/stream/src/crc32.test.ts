import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Backend, zlibCrc } from './crc32.js';

describe('crc32', () => {
  it('uses the native implementation on this platform', () => {
    expect(crc32Backend).toBe('native');
  });

  it('computes what zlib computes, for whole buffers and for chained slices', () => {
    const data = randomBytes(1 << 20);
    expect(crc32(data)).toBe(zlibCrc(data));
    for (const cut of [0, 1, 7, 4096, 999_999]) {
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(zlibCrc(data));
    }
  });

  it('matches the standard check value and stays unsigned', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(4, 0xff))).toBe(0xffffffff);
    expect(crc32(Buffer.alloc(0), 0x1234)).toBe(0x1234);
  });
});
