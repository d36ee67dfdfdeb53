import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createPrivateFile, makeSocketsPrivate } from './private-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'xl-private-'));
  dirs.push(d);
  return d;
}
const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);

describe('createPrivateFile', () => {
  test('a new file is 0600 whatever the umask; one already there is emptied and made 0600', async () => {
    const d = dir();
    const fresh = path.join(d, 'new.log');
    const old = process.umask(0);
    try {
      await createPrivateFile(fresh);
    } finally {
      process.umask(old);
    }
    expect(mode(fresh)).toBe('600');
    const there = path.join(d, 'old.log');
    writeFileSync(there, 'old text');
    chmodSync(there, 0o644);
    await createPrivateFile(there);
    expect([mode(there), statSync(there).size]).toEqual(['600', 0]);
  });

  test('never through a symlink; exclusive refuses any file already there', async () => {
    const d = dir();
    const victim = path.join(d, 'victim');
    writeFileSync(victim, 'keep');
    chmodSync(victim, 0o644);
    symlinkSync(victim, path.join(d, 'link'));
    await expect(createPrivateFile(path.join(d, 'link'))).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(createPrivateFile(victim, { exclusive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect([mode(victim), statSync(victim).size]).toEqual(['644', 4]);
  });
});

describe('makeSocketsPrivate', () => {
  test('narrows a socket to 0600; a regular file and a missing path are left alone', async () => {
    const d = dir();
    const sock = path.join(d, 's.sock');
    const server = createServer();
    const old = process.umask(0o027); // as QEMU's, once daemonized
    try {
      await new Promise<void>((resolve) => server.listen(sock, resolve));
    } finally {
      process.umask(old);
    }
    try {
      expect(mode(sock)).toBe('750');
      const file = path.join(d, 'plain');
      writeFileSync(file, '');
      chmodSync(file, 0o644);
      await makeSocketsPrivate([sock, file, path.join(d, 'missing.sock')]);
      expect([mode(sock), mode(file)]).toEqual(['600', '644']);
    } finally {
      server.close();
    }
  });
});
