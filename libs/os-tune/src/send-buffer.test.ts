import { mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { OsTuneError, setSendBuffer } from './index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-sndbuf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

/** A connected unix socket whose peer never reads (it is paused). */
async function stalledPair(name: string): Promise<net.Socket> {
  const sockPath = path.join(dir, name);
  const server = net.createServer((peer) => peer.pause());
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  const client = net.connect(sockPath);
  await new Promise((resolve) => client.once('connect', resolve));
  cleanup.push(() => {
    client.destroy();
    server.close();
  });
  return client;
}

describe('setSendBuffer', () => {
  it('lets the kernel take 2 MiB that a default socket cannot hold while its peer is not reading', async () => {
    const plain = await stalledPair('plain.sock');
    const enlarged = await stalledPair('enlarged.sock');
    const set = setSendBuffer(enlarged, 4 * MiB);
    expect(set?.bytes).toBeGreaterThanOrEqual(4 * MiB);
    const data = Buffer.alloc(2 * MiB, 0x5a);
    plain.write(data);
    // The enlarged socket's write completes: all of it sits in the kernel, unread.
    await new Promise<void>((resolve, reject) =>
      enlarged.write(data, (err) => (err ? reject(err) : resolve())),
    );
    expect(enlarged.writableLength).toBe(0);
    // The default buffer (about 208 KiB) leaves most of the same write queued in Node.
    expect(plain.writableLength).toBeGreaterThan(MiB);
  });

  it('is undefined for a socket that no longer has a descriptor', async () => {
    const s = await stalledPair('closed.sock');
    s.destroy();
    expect(setSendBuffer(s, MiB)).toBeUndefined();
  });

  it('names the refusing call and errno for a descriptor that is not a socket', () => {
    const file = path.join(dir, 'plain-file');
    const fd = openSync(file, 'w');
    cleanup.push(() => closeSync(fd));
    const err = (() => {
      try {
        setSendBuffer(fd, MiB);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(OsTuneError);
    expect(err).toMatchObject({ code: 'OS_TUNE_REFUSED', errno: 'ENOTSOCK', fd, requested: MiB });
    expect((err as Error).message).toMatch(
      /^cannot set the send buffer of descriptor \d+ to 1048576 bytes: setsockopt/,
    );
  });

  it('refuses sizes outside 4 KiB..256 MiB before any system call', async () => {
    const s = await stalledPair('range.sock');
    expect(() => setSendBuffer(s, 0)).toThrow(RangeError);
    expect(() => setSendBuffer(s, 512 * MiB)).toThrow(RangeError);
  });
});
