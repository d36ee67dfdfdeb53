import { describe, expect, it } from 'vitest';
import {
  guestRamBytes,
  MiB,
  qemuSize,
  RAM_TAIL_BYTES,
  savedRamBytes,
  tcgLosesDirtyWrites,
} from './guest-ram.js';

const v = (major: number, minor: number, micro = 0) => ({ major, minor, micro });

describe('guest RAM size', () => {
  it('adds the 8 KiB tail only under TCG on a QEMU before 9.0, or one whose version is unknown', () => {
    expect(tcgLosesDirtyWrites('tcg', v(7, 2, 22))).toBe(true);
    expect(tcgLosesDirtyWrites('tcg', v(8, 2, 9))).toBe(true);
    expect(tcgLosesDirtyWrites('tcg', undefined)).toBe(true);
    expect(tcgLosesDirtyWrites('tcg', v(9, 0))).toBe(false);
    expect(tcgLosesDirtyWrites('tcg', v(10, 1, 2))).toBe(false);
    expect(tcgLosesDirtyWrites('kvm', v(7, 2))).toBe(false);
    expect(tcgLosesDirtyWrites('kvm', undefined)).toBe(false);
    expect(guestRamBytes(128, 'tcg', v(7, 2))).toBe(128 * MiB + RAM_TAIL_BYTES);
    expect(guestRamBytes(128, 'tcg', v(9, 2))).toBe(128 * MiB);
    expect(guestRamBytes(128, 'kvm', v(7, 2))).toBe(128 * MiB);
  });

  it('leaves QEMU a length that is not a multiple of 64 pages, which its fast dirty sync needs', () => {
    for (const mib of [1, 128, 512, 4096])
      expect(guestRamBytes(mib, 'tcg', v(7, 2)) % (64 * 4096)).not.toBe(0);
  });

  it('a restored or received guest gets exactly what the stream says (old streams: whole MiB)', () => {
    expect(savedRamBytes({ memoryMiB: 128, memoryBytes: 128 * MiB + 8192 })).toBe(128 * MiB + 8192);
    expect(savedRamBytes({ memoryMiB: 128 })).toBe(128 * MiB);
  });

  it('writes sizes in QEMU syntax', () => {
    expect(qemuSize(128 * MiB)).toBe('128M');
    expect(qemuSize(128 * MiB + 8192)).toBe('131080K');
  });
});
