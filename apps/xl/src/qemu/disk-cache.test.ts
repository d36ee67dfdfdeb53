import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDiskSpec } from '../config/disk-spec.js';
import { resolveDiskCache, takesDirectIo } from './disk-cache.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-disk-cache-'));
const image = path.join(dir, 'a.raw');
writeFileSync(image, Buffer.alloc(4096));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pos = { file: 'f', line: 1, column: 1 };

describe('takesDirectIo', () => {
  it('is true for an image on a local file system and false where O_DIRECT is refused or the file is missing', async () => {
    expect(await takesDirectIo(image)).toBe(true);
    expect(await takesDirectIo('/proc/self/status')).toBe(false); // procfs: EINVAL
    expect(await takesDirectIo(path.join(dir, 'missing.raw'))).toBe(false);
  });
});

describe('resolveDiskCache', () => {
  it('decides every open mode on this host and keeps what the config set', async () => {
    const disks = [
      `format=raw, vdev=xvda, target=${image}`,
      'format=raw, vdev=xvdb, target=/proc/self/status',
      `format=raw, vdev=xvdc, cache=writeback, target=${image}`,
      `format=raw, vdev=xvdd, cache=none, target=${path.join(dir, 'missing.raw')}`,
      'vdev=hdc, devtype=cdrom',
    ].map((s) => parseDiskSpec(s, pos));
    const resolved = await resolveDiskCache(disks);
    expect(resolved.map((d) => [d.vdev, d.cache])).toEqual([['xvda', 'none'], ['xvdb', 'writeback'], ['xvdc', 'writeback'], ['xvdd', 'none'], ['hdc', undefined]]);
    expect(disks[0]?.cache).toBeUndefined(); // the config itself is not changed
  });
});
