import { createConnection, createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { socketChunks } from './socket-chunks.js';

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

describe('socketChunks', () => {
  test('yields every byte in order until the peer ends, holding the peer back past the limit', async () => {
    const { server, client } = await pair();
    const data = Buffer.alloc(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    client.end(data);
    const got: Buffer[] = [];
    for await (const b of socketChunks(server, 64 * 1024)) {
      got.push(b);
      await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  test('a connection torn down before its end is an error', async () => {
    const { server, client } = await pair();
    client.write('partial');
    setTimeout(() => server.destroy(), 20);
    const read = async () => {
      for await (const _ of socketChunks(server)) {
        // Drain.
      }
    };
    await expect(read()).rejects.toThrow(/closed before its end/);
  });
});
