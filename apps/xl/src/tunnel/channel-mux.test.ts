import { Duplex, PassThrough } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChannelMux } from './channel-mux.js';
import type { TunnelFrame } from './frames.js';
import { TunnelError } from './tunnel-error.js';

/** A duplex whose two sides are separate PassThroughs, as a test endpoint. */
function endpointPair(): { local: Duplex; remoteIn: PassThrough; remoteOut: PassThrough } {
  const remoteIn = new PassThrough(); // what the mux writes reaches here
  const remoteOut = new PassThrough(); // what we write here reaches the mux
  const local = Duplex.from({ readable: remoteOut, writable: remoteIn });
  return { local, remoteIn, remoteOut };
}

/** Two muxes joined by an in-memory link with a delivery queue (so sends really are async). */
function linked(window = 64 * 1024, accept?: (svc: number) => Promise<Duplex>) {
  const log: TunnelFrame[] = [];
  let b!: ChannelMux;
  const deliver = (to: () => ChannelMux) => async (f: TunnelFrame) => {
    log.push(f);
    await new Promise((r) => setImmediate(r));
    to().receive(f);
  };
  const a = new ChannelMux({ side: 'odd', send: deliver(() => b), window, maxFrame: 4096 });
  b = new ChannelMux({ side: 'even', send: deliver(() => a), window, maxFrame: 4096, accept });
  return { a, b, log };
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Reads until n bytes arrived, without ending or destroying the stream. */
function collect(s: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  return new Promise((resolve) => {
    const onData = (c: Buffer) => {
      parts.push(c);
      have += c.length;
      if (have >= n) {
        s.off('data', onData);
        s.pause();
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
  });
}

describe('ChannelMux', () => {
  it('carries bytes both ways on several channels at once, intact', async () => {
    const far: PassThrough[] = [];
    const { a } = linked(64 * 1024, async () => {
      const echo = new PassThrough(); // the far endpoint echoes everything back
      far.push(echo);
      return Duplex.from({ readable: echo, writable: echo });
    });
    const sizes = [300_000, 1, 123_457];
    const results = await Promise.all(
      sizes.map(async (n) => {
        const ep = endpointPair();
        a.open(1, ep.local);
        const data = randomBytes(n);
        ep.remoteOut.write(data);
        const back = await collect(ep.remoteIn, n);
        return sha(back) === sha(data);
      }),
    );
    expect(results).toEqual([true, true, true]);
    expect(far).toHaveLength(3);
  });

  it('never has more than the window of one channel in flight, and a stalled endpoint stalls only its channel', async () => {
    const window = 32 * 1024;
    // The far end of the first channel takes nothing: its writes never complete.
    const stalled = new Duplex({ read() {}, write() {} });
    const fast = endpointPair();
    const ends: Duplex[] = [stalled, fast.local];
    const { a, log } = linked(window, async () => ends.shift() as Duplex);
    const s = endpointPair();
    const f = endpointPair();
    const slowId = a.open(1, s.local);
    const fastId = a.open(1, f.local);
    s.remoteOut.write(randomBytes(500_000));
    const data = randomBytes(200_000);
    f.remoteOut.write(data);
    const got = await collect(fast.remoteIn, data.length);
    expect(sha(got)).toBe(sha(data));
    const sent = log
      .filter((x) => x.kind === 'data' && x.channel === slowId)
      .reduce((n, x) => n + (x.kind === 'data' ? x.length : 0), 0);
    expect(sent).toBe(window);
    expect(log.some((x) => x.kind === 'credit' && x.channel === slowId)).toBe(false);
    expect(log.filter((x) => x.kind === 'credit' && x.channel === fastId).length).toBeGreaterThan(0);
  });

  it('ends channels cleanly in both directions', async () => {
    const far = endpointPair();
    const { a, b } = linked(64 * 1024, async () => far.local);
    const ep = endpointPair();
    a.open(1, ep.local);
    ep.remoteOut.end(Buffer.from('bye'));
    const got = await collect(far.remoteIn, 3);
    expect(got.toString()).toBe('bye');
    far.remoteOut.end(Buffer.from('ok'));
    const back = await collect(ep.remoteIn, 2);
    expect(back.toString()).toBe('ok');
    await new Promise((r) => setTimeout(r, 20));
    expect(a.openChannels).toBe(0);
    expect(b.openChannels).toBe(0);
  });

  it('resets the channel when the far end cannot connect', async () => {
    const { a } = linked(64 * 1024, async () => {
      throw new Error('ECONNREFUSED');
    });
    const ep = endpointPair();
    a.open(1, ep.local);
    await new Promise((r) => ep.local.once('close', r));
    expect(a.openChannels).toBe(0);
  });

  it('treats a peer overrunning its credit, unknown channels and bad opens as protocol errors', () => {
    const errors: TunnelError[] = [];
    const mk = () =>
      new ChannelMux({
        side: 'even',
        send: async () => undefined,
        window: 16,
        accept: async () => new PassThrough(),
        onError: (e) => errors.push(e),
      });
    let m = mk();
    m.receive({ kind: 'open', channel: 1, service: 1 });
    expect(() => m.receive({ kind: 'data', channel: 1, chunks: [Buffer.alloc(17)], length: 17 })).toThrow(
      /credit/,
    );
    m = mk();
    expect(() => m.receive({ kind: 'data', channel: 7, chunks: [Buffer.alloc(1)], length: 1 })).toThrow(
      /never opened/,
    );
    m = mk();
    expect(() => m.receive({ kind: 'open', channel: 2, service: 1 })).toThrow(/out of order/);
    m = mk();
    m.receive({ kind: 'open', channel: 3, service: 1 });
    expect(() => m.receive({ kind: 'open', channel: 1, service: 1 })).toThrow(/out of order/);
    m = mk();
    m.receive({ kind: 'open', channel: 1, service: 1 });
    expect(() => m.receive({ kind: 'credit', channel: 1, bytes: 1 })).toThrow(/more credit/);
    expect(errors.length).toBe(5);
    expect(errors.every((e) => e instanceof TunnelError && e.kind === 'protocol')).toBe(true);
  });

  it('ignores frames that crossed a reset, and fails when sending fails', async () => {
    const errors: TunnelError[] = [];
    const m = new ChannelMux({
      side: 'odd',
      send: async () => {
        throw new Error('EPIPE');
      },
      onError: (e) => errors.push(e),
    });
    const ep = endpointPair();
    const id = m.open(1, ep.local);
    // The send runs on a later turn; a loaded machine can take longer than any fixed wait.
    await expect.poll(() => errors[0]?.kind).toBe('closed');
    expect(m.openChannels).toBe(0);
    expect(() => m.open(1, endpointPair().local)).toThrow(TunnelError);
    const n = new ChannelMux({ side: 'odd', send: async () => undefined });
    const id2 = n.open(1, endpointPair().local);
    n.receive({ kind: 'close', channel: id2, reset: true });
    expect(() =>
      n.receive({ kind: 'data', channel: id2, chunks: [Buffer.alloc(1)], length: 1 }),
    ).not.toThrow();
    expect(id).toBe(1);
  });

  it('is idle only once a last reset has gone out, not when the channel is dropped', async () => {
    const sent: TunnelFrame[] = [];
    const m = new ChannelMux({ side: 'odd', send: async (f) => void sent.push(f) });
    const ep = endpointPair();
    m.open(1, ep.local);
    await new Promise((r) => setImmediate(r));
    ep.local.destroy(new Error('endpoint failed')); // the channel resets: queued, sent by the next pump
    await new Promise((r) => process.nextTick(r));
    expect(m.openChannels).toBe(0);
    expect(sent.some((f) => f.kind === 'close')).toBe(false);
    expect(await m.idle(1000)).toBe(true);
    expect(sent.at(-1)).toEqual({ kind: 'close', channel: 1, reset: true });
  });
});
