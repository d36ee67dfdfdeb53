import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelMux } from './channel-mux.js';
import type { TunnelFrame } from './frames.js';
import { connectTo, listenTunnel } from './socket-endpoint.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('tunnelled unix sockets', () => {
  it('carries a client connection to the far service and back, over real sockets', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'xlkit-tunnel-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // The "service": echoes what it gets.
    const servicePath = path.join(dir, 'svc.sock');
    const service = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => service.listen(servicePath, r));
    cleanups.push(() => new Promise((r) => service.close(() => r())));

    let b!: ChannelMux;
    const link = (to: () => ChannelMux) => async (f: TunnelFrame) => {
      await new Promise((r) => setImmediate(r));
      to().receive(f);
    };
    const a = new ChannelMux({ side: 'odd', send: link(() => b) });
    b = new ChannelMux({ side: 'even', send: link(() => a), accept: connectTo({ 1: servicePath }) });
    cleanups.push(async () => {
      a.close();
      b.close();
    });
    const listener = await listenTunnel(a, path.join(dir, 'in.sock'), 1);
    cleanups.push(() => listener.close());

    const data = randomBytes(3 * 1024 * 1024);
    const client = net.connect(listener.path);
    const parts: Buffer[] = [];
    let have = 0;
    const done = new Promise<Buffer>((resolve) => {
      client.on('data', (c: Buffer) => {
        parts.push(c);
        have += c.length;
        if (have >= data.length) resolve(Buffer.concat(parts));
      });
    });
    client.write(data);
    expect((await done).equals(data)).toBe(true);
    expect(listener.accepted).toBe(1);
    client.destroy();
  });
});
