import { execFileSync } from 'node:child_process';
import {
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { dropPageCache } from './page-cache.js';

// DONTNEED cannot evict tmpfs pages (they are the file): use the repo's .cache if /tmp is tmpfs.
const TMPFS_MAGIC = 0x01021994;
const base =
  statfsSync(os.tmpdir()).type === TMPFS_MAGIC
    ? fileURLToPath(new URL('../../../../.cache', import.meta.url))
    : os.tmpdir();
mkdirSync(base, { recursive: true });
const dir = mkdtempSync(path.join(base, 'xl-page-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes of FILE resident in the page cache (util-linux fincore). */
const resident = (file: string) =>
  Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file]).toString().trim());

describe('dropPageCache', () => {
  test("evicts a file's clean cached pages and leaves its contents alone", async () => {
    const file = path.join(dir, 'old.save');
    const data = randomBytes(4 << 20);
    writeFileSync(file, data);
    const fd = openSync(file, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    readFileSync(file);
    expect(resident(file)).toBeGreaterThan(0);
    expect(await dropPageCache(file)).toBe(true);
    expect(resident(file)).toBe(0);
    expect(readFileSync(file).equals(data)).toBe(true);
  });

  test('anything but an existing regular file is left alone', async () => {
    expect(await dropPageCache(path.join(dir, 'missing'))).toBe(false);
    expect(await dropPageCache(dir)).toBe(false);
  });
});
