import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkFeeder } from './chunk-feeder.js';

/** A connected unix socket pair: `near` is the feeder's, `far` stands for QEMU (paused: reads nothing until resumed). */
async function socketPair(): Promise<{ near: net.Socket; far: net.Socket; close: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-feeder-'));
  const file = path.join(dir, 's');
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((r) => server.listen(file, r));
  const farP = new Promise<net.Socket>((r) => server.once('connection', r));
  const near = net.connect(file);
  await new Promise((r) => near.once('connect', r));
  const far = await farP;
  return {
    near,
    far,
    close: () => {
      near.destroy();
      far.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const MiB = 1024 * 1024;
const chunk = (n: number, fill: number) => [Buffer.alloc(n / 2, fill), Buffer.alloc(n / 2, fill + 1)];
const tick = () => new Promise((r) => setTimeout(r, 20));
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('ChunkFeeder', () => {
  it('with credit: grants the window at start, never blocks the reader, and grants bytes back as QEMU takes them', async () => {
    const { near, far, close } = await socketPair();
    cleanups.push(close);
    const grants: number[] = [];
    const feeder = new ChunkFeeder(near, { window: 8 * MiB, grant: (b) => grants.push(b) });
    expect(grants).toEqual([8 * MiB]);
    // QEMU reads nothing yet: both chunks are still accepted at once.
    await feeder.push(chunk(4 * MiB, 1), 4 * MiB);
    await feeder.push(chunk(4 * MiB, 3), 4 * MiB);
    await tick();
    expect(grants).toEqual([8 * MiB]);
    // One byte more than granted is the sender's protocol error.
    await expect(feeder.push(chunk(2, 5), 2)).rejects.toThrow(
      /overstepped its RAM credit: a chunk of 2 bytes with 0 granted/,
    );
    let got = 0;
    far.on('data', (b: Buffer) => (got += b.length));
    far.resume();
    await feeder.finish();
    expect(grants.slice(1).reduce((a, b) => a + b, 0)).toBe(8 * MiB);
    await tick();
    expect(got).toBe(8 * MiB);
  });

  it('without credit: the third chunk waits until the first has drained (at most two held)', async () => {
    const { near, far, close } = await socketPair();
    cleanups.push(close);
    const feeder = new ChunkFeeder(near);
    await feeder.push(chunk(4 * MiB, 1), 4 * MiB);
    let second = false;
    const p = feeder.push(chunk(4 * MiB, 3), 4 * MiB).then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    far.resume();
    await p;
    await feeder.push(chunk(4 * MiB, 5), 4 * MiB);
    await feeder.finish();
  });

  it('QEMU closing its socket once it took everything is not a failure, but a chunk after that is', async () => {
    const { near, far, close } = await socketPair();
    cleanups.push(close);
    const feeder = new ChunkFeeder(near, { window: 8 * MiB, grant: () => undefined });
    let got = 0;
    far.on('data', (b: Buffer) => {
      got += b.length;
      // The end of its stream: QEMU completes and closes its end before RAM_END reaches xl.
      if (got === 2 * MiB) far.destroy();
    });
    far.resume();
    await feeder.push(chunk(2 * MiB, 1), 2 * MiB);
    await new Promise((r) => near.once('close', r));
    await feeder.finish();
    await expect(feeder.push(chunk(2, 1), 2)).rejects.toThrow(
      /QEMU closed the incoming migration socket with 2 more bytes of its stream to come/,
    );
  });

  it('QEMU closing with bytes it never read is a failure even when every write was accepted', async () => {
    const { near, far, close } = await socketPair();
    cleanups.push(close);
    const feeder = new ChunkFeeder(near, { window: 8 * MiB, grant: () => undefined });
    // Small enough for the kernel to take at once; QEMU (paused) reads none of it.
    await feeder.push(chunk(64 * 1024, 1), 64 * 1024);
    await tick();
    far.destroy();
    await new Promise((r) => near.once('close', r));
    await expect(feeder.finish()).rejects.toThrow(/ECONNRESET/);
  });

  it('reports QEMU closing its socket to the next push or to finish', async () => {
    const { near, far, close } = await socketPair();
    cleanups.push(close);
    const feeder = new ChunkFeeder(near, { window: 8 * MiB, grant: () => undefined });
    await feeder.push(chunk(4 * MiB, 1), 4 * MiB);
    far.destroy();
    await expect(feeder.finish()).rejects.toThrow();
    await expect(feeder.push(chunk(2, 1), 2)).rejects.toThrow();
  });
});
