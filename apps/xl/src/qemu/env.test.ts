import { describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ownModuleDir, qemuEnv, withMallocTunables } from './env.js';

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

  test('an unpacked QEMU package gets its own module dir; the system QEMU and a caller setting keep theirs', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'xl-env-'));
    try {
      const modules = path.join(root, 'usr', 'lib', 'x86_64-linux-gnu', 'qemu');
      mkdirSync(modules, { recursive: true });
      const binary = path.join(root, 'usr', 'bin', 'qemu-system-x86_64');
      expect(ownModuleDir(binary)).toBe(modules);
      expect(qemuEnv({}, binary).QEMU_MODULE_DIR).toBe(modules);
      expect(qemuEnv({ QEMU_MODULE_DIR: '/x' }, binary).QEMU_MODULE_DIR).toBe('/x');
      expect(ownModuleDir('/usr/bin/qemu-system-x86_64')).toBeUndefined();
      expect(ownModuleDir(path.join(root, 'elsewhere', 'qemu'))).toBeUndefined();
      expect(qemuEnv({}).QEMU_MODULE_DIR).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
