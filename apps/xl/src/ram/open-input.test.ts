import { execFileSync } from 'node:child_process';
import { constants, openSync, closeSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/domain-store.js';
import { openInput } from './open-input.js';
import { restoreDomain } from './restore-domain.js';

let dir: string;
let fifo: string;
const fds: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-input-'));
  fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});
afterEach(async () => {
  for (const fd of fds.splice(0)) closeSync(fd);
  await rm(dir, { recursive: true, force: true });
});

/** A writer that opens the FIFO (once xl reads it), writes `bytes` and holds it open. */
function stallingWriter(bytes: Buffer): void {
  // O_RDWR never waits for a reader (Linux), and keeps a writer on the FIFO while the test runs.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  fds.push(fd);
  writeSync(fd, bytes);
}

describe('openInput', () => {
  it('a FIFO nobody writes: the open ends on abort, leaving no wait behind', async () => {
    const ac = new AbortController();
    const opening = openInput(fifo, ac.signal);
    setTimeout(() => ac.abort(), 100);
    await expect(opening).rejects.toMatchObject({ code: 'XL_INTERRUPTED' });
  });

  it('refuses a directory and a missing file with XL_RESTORE', async () => {
    await expect(openInput(dir)).rejects.toThrow(/it is a directory/);
    await expect(openInput(path.join(dir, 'none'))).rejects.toMatchObject({
      code: 'XL_RESTORE',
      message: expect.stringContaining('ENOENT'),
    });
  });
});

describe('restoreDomain from a FIFO', () => {
  it('is interrupted while waiting for a writer', async () => {
    const store = await openStore(path.join(dir, 's'), {});
    const ac = new AbortController();
    const restoring = restoreDomain(store, { file: fifo, paused: true, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(restoring).rejects.toMatchObject({
      code: 'XL_INTERRUPTED',
      message: `cannot restore from ${fifo}: interrupted`,
    });
    expect(await store.list()).toEqual([]);
  });

  it('is interrupted while waiting for the rest of its headers', async () => {
    const store = await openStore(path.join(dir, 's'), {});
    stallingWriter(Buffer.from('Xen saved domain, xl format\n \0 \r'));
    const ac = new AbortController();
    const restoring = restoreDomain(store, { file: fifo, paused: true, signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    await expect(restoring).rejects.toMatchObject({ code: 'XL_INTERRUPTED' });
  });
});
