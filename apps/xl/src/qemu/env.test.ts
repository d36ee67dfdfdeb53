import { describe, expect, test } from 'vitest';
import { qemuEnv, withMallocTunables } from './env.js';

describe('QEMU environment', () => {
  test('adds the malloc tunables to an environment without GLIBC_TUNABLES, keeping the rest', () => {
    const env = qemuEnv({ PATH: '/usr/bin', LANG: 'C' });
    expect(env).toEqual({
      PATH: '/usr/bin',
      LANG: 'C',
      GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456',
    });
  });

  test("keeps the caller's tunables and adds only the keys they did not set", () => {
    expect(
      withMallocTunables({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0:glibc.cpu.hwcaps=-AVX2' }),
    ).toBe('glibc.malloc.trim_threshold=0:glibc.cpu.hwcaps=-AVX2:glibc.malloc.mmap_threshold=33554432');
    expect(
      withMallocTunables({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=1:glibc.malloc.trim_threshold=2' }),
    ).toBe('glibc.malloc.mmap_threshold=1:glibc.malloc.trim_threshold=2');
    expect(withMallocTunables({ GLIBC_TUNABLES: '' })).toBe(
      'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456',
    );
  });

  test('an older MALLOC_*_ variable the caller set keeps its tunable out', () => {
    expect(qemuEnv({ MALLOC_TRIM_THRESHOLD_: '0' }).GLIBC_TUNABLES).toBe(
      'glibc.malloc.mmap_threshold=33554432',
    );
    expect(qemuEnv({ MALLOC_TRIM_THRESHOLD_: '0', MALLOC_MMAP_THRESHOLD_: '1' })).toEqual({
      MALLOC_TRIM_THRESHOLD_: '0',
      MALLOC_MMAP_THRESHOLD_: '1',
    });
  });
});
