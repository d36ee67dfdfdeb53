import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { isProcessAlive } from '../host/process-info.js';
import { holdReplaced, releaseDetached } from './replaced-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'xl-replaced-'));
  dirs.push(d);
  return d;
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && isProcessAlive(pid); i++) await sleep(10);
  return !isProcessAlive(pid);
}

describe('holdReplaced', () => {
  test('holds a regular file, and nothing for a missing file, a symlink, a directory or a file with another link', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'f'), 'x');
    symlinkSync(path.join(d, 'f'), path.join(d, 'link'));
    mkdirSync(path.join(d, 'sub'));
    writeFileSync(path.join(d, 'shared'), 'y');
    linkSync(path.join(d, 'shared'), path.join(d, 'shared-too'));
    const held = await holdReplaced(path.join(d, 'f'));
    expect(held).toBeDefined();
    expect((await held?.stat())?.ino).toBe(statSync(path.join(d, 'f')).ino);
    await held?.close();
    // A rename over 'shared' frees nothing: its other link keeps the data.
    for (const name of ['missing', 'link', 'sub', 'shared'])
      expect(await holdReplaced(path.join(d, name))).toBeUndefined();
  });
});

describe('releaseDetached', () => {
  test('the helper holds the replaced inode as its fd 3 while xl has closed its own, then exits', async () => {
    const d = dir();
    const target = path.join(d, 'dom.save');
    writeFileSync(target, 'old');
    writeFileSync(path.join(d, 'new'), 'new');
    const held = await holdReplaced(target);
    if (held === undefined) throw new Error('not held');
    renameSync(path.join(d, 'new'), target);
    let seen = '';
    const release = await releaseDetached(held, (pid) => {
      seen = readlinkSync(`/proc/${pid}/fd/3`);
      // Still readable through the helper: the old file is not freed yet.
      expect(readFileSync(`/proc/${pid}/fd/3`, 'utf8')).toBe('old');
    });
    expect(release.by).toBe('helper');
    expect(seen).toBe(`${target} (deleted)`);
    expect(held.fd).toBe(-1);
    expect(await gone(release.pid ?? -1)).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('new');
  });

  test('where the helper cannot start, xl closes the file itself', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'f'), 'x');
    const held = await holdReplaced(path.join(d, 'f'));
    if (held === undefined) throw new Error('not held');
    const savedPath = process.env.PATH;
    process.env.PATH = path.join(d, 'no-such-dir');
    try {
      expect(await releaseDetached(held)).toEqual({ by: 'in-process' });
    } finally {
      process.env.PATH = savedPath;
    }
    expect(held.fd).toBe(-1);
  });

  test('never throws: a helper that cannot even be spawned leaves xl to close the file itself', async () => {
    let closed = 0;
    // A descriptor number nothing has open: spawn() refuses it at once (EBADF).
    const bogus = { fd: 1_000_000, close: async () => void closed++ } as unknown as FileHandle;
    expect(await releaseDetached(bogus)).toEqual({ by: 'in-process' });
    expect(closed).toBe(1);
  });
});
