import * as fs from 'node:fs';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, test } from 'vitest';
import { WriteBehind } from './write-behind.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-write-behind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An fdatasync that only completes when released, and a close that is logged. */
function heldIo() {
  const held: (() => void)[] = [];
  const log: string[] = [];
  const io = {
    fdatasync: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      log.push('flush');
      held.push(() =>
        fs.fdatasync(fd, (err) => {
          log.push('flushed');
          cb(err);
        }),
      );
    }) as typeof fs.fdatasync,
    close: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      log.push('close');
      fs.close(fd, cb);
    }) as typeof fs.close,
  };
  return { io, held, log };
}

describe('WriteBehind', () => {
  test('starts one background flush per threshold, never two at once', async () => {
    const { io, held, log } = heldIo();
    const wb = new WriteBehind(64 * 1024, io);
    const file = path.join(dir, 'a.bin');
    const stream = createWriteStream(file, { fs: wb.fs });
    for (let i = 0; i < 4; i++)
      await new Promise<void>((r) => stream.write(Buffer.alloc(64 * 1024, i), () => r()));
    expect(log).toEqual(['flush']);
    held.shift()?.();
    await wb.settle();
    await new Promise<void>((r) => stream.write(Buffer.alloc(64 * 1024), () => r()));
    expect(log).toEqual(['flush', 'flushed', 'flush']);
    held.shift()?.();
    await new Promise<void>((resolve) => stream.end(resolve));
    await wb.settle();
    expect(wb.flushes).toBe(2);
    expect(readFileSync(file).length).toBe(5 * 64 * 1024);
  });

  test('the stream closes its fd only after the flush in flight, which would otherwise hit a closed fd', async () => {
    const { io, held, log } = heldIo();
    const wb = new WriteBehind(1024, io);
    const stream = createWriteStream(path.join(dir, 'b.bin'), { fs: wb.fs });
    await new Promise<void>((r) => stream.write(Buffer.alloc(4096), () => r()));
    const closed = new Promise<void>((r) => stream.once('close', () => r()));
    stream.end();
    await sleep(50);
    expect(log).toEqual(['flush']);
    held.shift()?.();
    await closed;
    expect(log).toEqual(['flush', 'flushed', 'close']);
    await expect(wb.settle()).resolves.toBeUndefined();
  });

  test('a failed background flush is reported at once through onFailure, and by settle()', async () => {
    const failures: NodeJS.ErrnoException[] = [];
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const io = {
      fdatasync: ((_fd: number, cb: (err: NodeJS.ErrnoException | null) => void) =>
        void setImmediate(() => cb(eio))) as typeof fs.fdatasync,
    };
    const wb = new WriteBehind(1024, io, (err) => failures.push(err));
    const stream = createWriteStream(path.join(dir, 'c.bin'), { fs: wb.fs });
    await new Promise<void>((r) => stream.write(Buffer.alloc(4096), () => r()));
    await expect(wb.settle()).rejects.toMatchObject({ code: 'EIO' });
    expect(failures.map((e) => e.code)).toEqual(['EIO']);
    await new Promise<void>((resolve) => stream.end(resolve));
  });
});
