import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDiskSpec } from '../config/disk-spec.js';
import { hasBackingFile, resolveDiskCache, takesDirectIo } from './disk-cache.js';

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

/** A qcow2 header (all resolveDiskCache reads of one): magic, version 3, backing_file_offset. */
function qcow2Header(backingOffset: bigint): Buffer {
  const h = Buffer.alloc(104);
  h.writeUInt32BE(0x514649fb, 0);
  h.writeUInt32BE(3, 4);
  h.writeBigUInt64BE(backingOffset, 8);
  return h;
}
const overlay = path.join(dir, 'overlay.qcow2');
const standalone = path.join(dir, 'standalone.qcow2');
writeFileSync(overlay, qcow2Header(0x200n));
writeFileSync(standalone, qcow2Header(0n));

describe('hasBackingFile', () => {
  it('reads the backing file offset of a qcow2 header; anything else has none', async () => {
    expect(await hasBackingFile(overlay)).toBe(true);
    expect(await hasBackingFile(standalone)).toBe(false);
    expect(await hasBackingFile(image)).toBe(false); // raw zeros
    expect(await hasBackingFile(path.join(dir, 'missing.qcow2'))).toBe(false);
  });
});

describe('resolveDiskCache', () => {
  it('leaves a qcow2 overlay in the page cache: its backing chain opens with its mode and is not probed', async () => {
    const disks = [
      `format=qcow2, vdev=xvda, target=${overlay}`,
      `format=qcow2, vdev=xvdb, target=${standalone}`,
    ].map((s) => parseDiskSpec(s, pos));
    expect((await resolveDiskCache(disks)).map((d) => d.cache)).toEqual(['writeback', 'none']);
  });

  it('decides every open mode on this host and keeps what the config set', async () => {
    const disks = [
      `format=raw, vdev=xvda, target=${image}`,
      'format=raw, vdev=xvdb, target=/proc/self/status',
      `format=raw, vdev=xvdc, cache=writeback, target=${image}`,
      `format=raw, vdev=xvdd, cache=none, target=${path.join(dir, 'missing.raw')}`,
      'vdev=hdc, devtype=cdrom',
    ].map((s) => parseDiskSpec(s, pos));
    const resolved = await resolveDiskCache(disks);
    expect(resolved.map((d) => [d.vdev, d.cache])).toEqual([
      ['xvda', 'none'],
      ['xvdb', 'writeback'],
      ['xvdc', 'writeback'],
      ['xvdd', 'none'],
      ['hdc', undefined],
    ]);
    expect(disks[0]?.cache).toBeUndefined(); // the config itself is not changed
  });
});
