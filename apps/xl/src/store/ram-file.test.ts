import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isRamFilePath, newRamFilePath, removeOwnedRamFile } from './ram-file.js';

describe('shared RAM files', () => {
  it('makes fresh paths under /dev/shm and trusts only paths of that shape', () => {
    const a = newRamFilePath();
    expect(a).toMatch(/^\/dev\/shm\/xlkit-ram-[0-9a-f]{32}$/);
    expect(newRamFilePath()).not.toBe(a);
    expect(isRamFilePath(a)).toBe(true);
    for (const bad of [
      '/etc/passwd',
      '/dev/shm/../etc/xlkit-ram-0',
      `/dev/shm/sub/${a.slice(9)}`,
      7,
      undefined,
    ])
      expect(isRamFilePath(bad)).toBe(false);
  });

  it("removes only an owner's file, and never one xl did not name", async () => {
    const file = newRamFilePath();
    await writeFile(file, 'ram');
    await removeOwnedRamFile({ path: file, owner: false });
    expect(existsSync(file)).toBe(true);
    await removeOwnedRamFile({ path: file, owner: true });
    expect(existsSync(file)).toBe(false);
    await expect(removeOwnedRamFile({ path: '/nonexistent-dir/x', owner: true })).resolves.toBeUndefined();
  });
});
