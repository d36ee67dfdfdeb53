import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ChunkReader, OsTuneError } from './index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-chunk-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

let n = 0;
/** A connected pair: `writer` (the client) and `accepted`, which Node never started reading. */
async function pair(): Promise<{ writer: net.Socket; accepted: net.Socket; fd: number }> {
  const sockPath = path.join(dir, `s${n++}.sock`);
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const writer = net.connect(sockPath);
  await new Promise((resolve) => writer.once('connect', resolve));
  const sock = await accepted;
  server.close();
  cleanup.push(() => {
    writer.destroy();
    sock.destroy();
  });
  const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
  return { writer, accepted: sock, fd };
}

function open(fd: number): ChunkReader {
  const r = ChunkReader.open(fd);
  if (r === undefined) throw new Error('the os-tune addon did not build');
  return r;
}

describe('ChunkReader', () => {
  it('fills whole chunks, then the rest at end of stream, bytes in order', async () => {
    const { writer, fd } = await pair();
    const data = randomBytes(3 * 1024 * 1024 + 1234);
    writer.end(data);
    const reader = open(fd);
    const got: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(1024 * 1024);
      const r = await reader.read(buf, 1000, 1000);
      got.push(buf.subarray(0, r.bytes));
      if (r.eof) break;
    }
    await reader.close();
    expect(got.slice(0, 3).map((b) => b.length)).toEqual([1048576, 1048576, 1048576]);
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  it('returns a partial chunk once the writer has been quiet for idleMs, and 0 bytes after waitMs of nothing', async () => {
    const { writer, fd } = await pair();
    const reader = open(fd);
    writer.write(Buffer.from('hello'));
    const buf = Buffer.alloc(1024);
    const first = await reader.read(buf, 5, 10_000);
    expect([first.bytes, first.eof, buf.subarray(0, 5).toString()]).toEqual([5, false, 'hello']);
    const t0 = performance.now();
    const quiet = await reader.read(buf, 5, 30);
    expect(quiet).toEqual({ bytes: 0, eof: false });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    await reader.close();
  });

  it('reads on its own descriptor: the socket may be destroyed while a read waits', async () => {
    const { writer, accepted, fd } = await pair();
    const reader = open(fd);
    const pending = reader.read(Buffer.alloc(16), 5, 200);
    accepted.destroy();
    writer.write(Buffer.from('late'));
    const r = await pending;
    expect(r.eof).toBe(false);
    expect(r.bytes).toBe(4);
    await reader.close();
    await expect(reader.read(Buffer.alloc(16), 5, 5)).rejects.toMatchObject({
      code: 'OS_TUNE_READ',
      errno: 'EBADF',
    });
  });

  it('refuses a second read in flight, and reports a failed read with its errno', async () => {
    const { fd } = await pair();
    const reader = open(fd);
    const first = reader.read(Buffer.alloc(16), 5, 20);
    await expect(reader.read(Buffer.alloc(16), 5, 20)).rejects.toMatchObject({ errno: 'EBUSY' });
    await first;
    await reader.close();
    expect(() => ChunkReader.open(987_654)).toThrow(OsTuneError);
    const err = (() => {
      try {
        ChunkReader.open(987_654);
      } catch (e) {
        return e as OsTuneError;
      }
      return undefined;
    })();
    expect(err?.errno).toBe('EBADF');
  });
});
