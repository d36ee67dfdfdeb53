import { execFileSync } from 'node:child_process';
import {
  fdatasync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { AtomicFile, partialPath } from './atomic-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'xl-atomic-'));
  dirs.push(d);
  return d;
}

describe('AtomicFile', () => {
  test('writes under a hidden partial name, and only commit() puts FILE in place (replacing an old one)', async () => {
    const d = dir();
    const target = path.join(d, 'dom.save');
    writeFileSync(target, 'old');
    const f = await AtomicFile.create(target);
    expect(f.tempPath).toBe(partialPath(target));
    expect(path.basename(f.tempPath)).toBe(`.dom.save.xlkit-partial-${process.pid}`);
    f.stream.write(Buffer.from('new contents'));
    expect(readFileSync(target, 'utf8')).toBe('old');
    expect(await f.commit()).toBe(12);
    expect(readFileSync(target, 'utf8')).toBe('new contents');
    expect(readdirSync(d)).toEqual(['dom.save']);
    // The old file went to a helper to be freed (replaced-file.ts).
    expect(f.replaced?.by).toBe('helper');
    expect(f.inPlace).toBe(true);
  });

  test('a FILE that became a directory before commit() is left as it was, nothing in place and nothing let go', async () => {
    const d = dir();
    const target = path.join(d, 'taken');
    const f = await AtomicFile.create(target);
    f.stream.write(Buffer.from('new'));
    mkdirSync(target);
    writeFileSync(path.join(target, 'inside'), 'x');
    await expect(f.commit()).rejects.toMatchObject({
      code: 'XL_SAVE',
      message: expect.stringContaining(`${target} is a directory`),
    });
    expect(f.inPlace).toBe(false);
    expect(f.replaced).toBeUndefined();
    expect(readdirSync(d)).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['inside']);
  });

  test('refuses a FILE that is not a regular file before creating anything, and never replaces it', async () => {
    const d = dir();
    const fifo = path.join(d, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const link = path.join(d, 'link');
    symlinkSync(path.join(d, 'elsewhere'), link);
    const sub = path.join(d, 'sub');
    mkdirSync(sub);
    for (const [target, kind] of [
      ['/dev/null', 'a character device'],
      [fifo, 'a FIFO'],
      [link, 'a symbolic link'],
      [sub, 'a directory'],
    ] as const) {
      await expect(AtomicFile.create(target), target).rejects.toMatchObject({
        code: 'XL_SAVE',
        message: expect.stringContaining(`${target} is ${kind}`),
      });
    }
    expect(readdirSync(d).sort()).toEqual(['fifo', 'link', 'sub']);
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test('knows the partial file it made by device and inode', async () => {
    const d = dir();
    const f = await AtomicFile.create(path.join(d, 'dom.save'));
    const st = lstatSync(f.tempPath, { bigint: true });
    expect(f.partial).toEqual({ path: f.tempPath, dev: String(st.dev), ino: String(st.ino) });
    await f.discard();
  });

  test('with no FILE before it, commit() has nothing to let go', async () => {
    const d = dir();
    const f = await AtomicFile.create(path.join(d, 'dom.save'));
    f.stream.write(Buffer.from('first'));
    expect(await f.commit()).toBe(5);
    expect(f.replaced).toBeUndefined();
  });

  test('flushes behind the writes: a background fdatasync per threshold, and the bytes land intact', async () => {
    const d = dir();
    const target = path.join(d, 'big.save');
    const f = await AtomicFile.create(target, { writeBehindBytes: 1 << 20 });
    const data = Buffer.alloc(5 << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    for (let at = 0; at < data.length; at += 256 * 1024) {
      if (!f.stream.write(data.subarray(at, at + 256 * 1024)))
        await new Promise<void>((r) => f.stream.once('drain', () => r()));
    }
    expect(await f.commit()).toBe(data.length);
    expect(f.backgroundFlushes).toBeGreaterThanOrEqual(1);
    expect(f.backgroundFlushes).toBeLessThanOrEqual(5);
    expect(readFileSync(target).equals(data)).toBe(true);
  });

  test('a failed background flush stops the file at once; commit() fails, FILE stays as it was, nothing is left', async () => {
    const d = dir();
    const target = path.join(d, 'dom.save');
    writeFileSync(target, 'old');
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const f = await AtomicFile.create(target, {
      writeBehindBytes: 1024,
      io: {
        fdatasync: ((_fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
          void setImmediate(() => cb(eio))) as typeof fdatasync,
      },
    });
    f.stream.write(Buffer.alloc(4096));
    await new Promise<void>((r) => f.stream.once('close', () => r()));
    expect(f.stream.destroyed).toBe(true);
    await expect(f.commit()).rejects.toMatchObject({
      code: 'XL_SAVE',
      message: expect.stringContaining('i/o error'),
    });
    expect(readFileSync(target, 'utf8')).toBe('old');
    expect(readdirSync(d)).toEqual(['dom.save']);
  });

  test('discard() removes the partial file and leaves FILE as it was', async () => {
    const d = dir();
    const target = path.join(d, 'dom.save');
    const f = await AtomicFile.create(target);
    f.stream.write(Buffer.alloc(1 << 20));
    await f.discard();
    await f.discard();
    expect(readdirSync(d)).toEqual([]);
  });

  test('a directory that does not exist is an XL_SAVE error naming the path', async () => {
    const target = path.join(dir(), 'missing', 'dom.save');
    await expect(AtomicFile.create(target)).rejects.toMatchObject({
      code: 'XL_SAVE',
      message: expect.stringMatching(/missing\/.dom.save.*: no such file or directory$/),
    });
  });
});
