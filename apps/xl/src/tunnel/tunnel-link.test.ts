import { PassThrough } from 'node:stream';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamReader, StreamWriter, TunnelService } from '@xlkit/stream';
import { attachTunnel, detachTunnel } from './tunnel-link.js';
import { connectTo, listenTunnel } from './socket-endpoint.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** One direction of the pipe: a writer on one end, a reader (headers already written) on the other. */
async function pipeDirection(): Promise<{ writer: StreamWriter; reader: StreamReader; pipe: PassThrough }> {
  const pipe = new PassThrough({ highWaterMark: 64 * 1024 });
  const writer = new StreamWriter(pipe, { maxBuffered: 256 * 1024 });
  await writer.writeStreamHeader();
  const reader = new StreamReader(pipe, { xlHeader: 'absent' });
  await reader.headers();
  return { writer, reader, pipe };
}

describe('tunnel over framed record streams', () => {
  it('carries a socket through both directions while the reader also yields RAM records', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'xlkit-tlink-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const svcPath = path.join(dir, 'svc.sock');
    const svc = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => svc.listen(svcPath, r));
    cleanups.push(() => new Promise<void>((r) => svc.close(() => r())));

    const fwd = await pipeDirection(); // sender -> receiver
    const back = await pipeDirection(); // receiver -> sender
    const sender = attachTunnel({ side: 'odd', reader: back.reader, writer: fwd.writer });
    const receiver = attachTunnel({
      side: 'even',
      reader: fwd.reader,
      writer: back.writer,
      accept: connectTo({ [TunnelService.NBD]: svcPath }),
    });
    cleanups.push(() => {
      detachTunnel(sender);
      detachTunnel(receiver);
    });
    const listener = await listenTunnel(sender, path.join(dir, 'in.sock'), TunnelService.NBD);
    cleanups.push(() => listener.close());

    // Both readers are pumped: the receiver reads RAM records (tunnel frames are taken out
    // between them), the sender's back channel is read until its END.
    await fwd.writer.writePhase(3);
    const ram = (async () => {
      expect((await fwd.reader.next())?.name).toBe('PHASE');
      const got: Buffer[] = [];
      for await (const b of fwd.reader.ramPayload()) got.push(b);
      return Buffer.concat(got);
    })();
    const backEnd = back.reader.next();

    const data = randomBytes(2 * 1024 * 1024);
    const client = net.connect(listener.path);
    const echoed = new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      let have = 0;
      client.on('data', (c: Buffer) => {
        parts.push(c);
        have += c.length;
        if (have >= data.length) resolve(Buffer.concat(parts));
      });
    });
    client.write(data);
    const ramData = randomBytes(300_000);
    await fwd.writer.writeRamChunk(ramData.subarray(0, 100_000));
    await fwd.writer.writeRamChunk(ramData.subarray(100_000));
    expect((await echoed).equals(data)).toBe(true);
    client.end();
    expect(await sender.idle(5000)).toBe(true);
    await fwd.writer.endRam();
    expect((await ram).equals(ramData)).toBe(true);
    await back.writer.writeRecord('END', null);
    back.pipe.end();
    expect((await backEnd)?.name).toBe('END');
    expect(receiver.openChannels).toBe(0);
  });

  it('after detach, a tunnel record the peer sent before it saw the close is dropped, not an error', async () => {
    const fwd = await pipeDirection();
    const mux = attachTunnel({ side: 'even', reader: fwd.reader, writer: (await pipeDirection()).writer });
    detachTunnel(mux);
    const next = fwd.reader.next();
    await fwd.writer.writeRecord('TUNNEL_CLOSE', { channel: 1, reset: true });
    await fwd.writer.writeRecord('END', null);
    fwd.pipe.end();
    expect((await next)?.name).toBe('END');
  });
});
