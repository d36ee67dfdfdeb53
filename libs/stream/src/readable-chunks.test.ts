import { createConnection, createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { readableChunks, type ChunkStats } from './readable-chunks.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function pair(): Promise<{ server: Socket; client: Socket }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-sock-'));
  const file = path.join(dir, 's.sock');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(file, r));
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  const client = createConnection(file);
  const server = await accepted;
  cleanups.push(() => {
    client.destroy();
    server.destroy();
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, client };
}

describe('readableChunks', () => {
  test('yields every byte in order until the peer ends, holding the peer back past the limit', async () => {
    const { server, client } = await pair();
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    client.end(data);
    const got: Buffer[] = [];
    const stats: ChunkStats = { maxQueued: 0, pauses: 0 };
    for await (const b of readableChunks<Buffer>(server, 64 * 1024, stats)) {
      got.push(b);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    // A slow consumer paused the socket, and never held much more than the limit.
    expect(stats.pauses).toBeGreaterThan(0);
    expect(stats.maxQueued).toBeLessThanOrEqual(64 * 1024 + 256 * 1024);
  });

  test('a connection torn down before its end is an error', async () => {
    const { server, client } = await pair();
    client.write('partial');
    setTimeout(() => server.destroy(), 20);
    const read = async () => {
      for await (const _ of readableChunks(server)) {
        // Drain.
      }
    };
    await expect(read()).rejects.toThrow(/closed before its end/);
  });
});
