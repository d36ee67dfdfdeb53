import { PassThrough, Readable, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { describe, expect, test } from 'vitest';
import { StreamError } from './errors.js';
import { readStream } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';
import * as B from './testing/byte-builder.js';
import { captured, pieces } from './testing/collect.js';

/** A slow sink with a tiny high-water mark that records the most it ever had buffered. */
class SlowSink extends Writable {
  parts: Buffer[] = [];
  maxBuffered = 0;
  constructor() {
    super({ highWaterMark: 1024 });
  }
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    this.parts.push(c);
    setImmediate(cb);
  }
}

async function caught(p: Promise<unknown>): Promise<StreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StreamError);
  return e as StreamError;
}

describe('StreamWriter', () => {
  test('waits for drain: never more than the budget plus one chunk is buffered', async () => {
    const sink = new SlowSink();
    const w = new StreamWriter(sink, { maxBuffered: 16 * 1024 });
    await w.writeStreamHeader();
    await w.writePhase(3);
    const data = B.pattern(1 << 20, 5);
    const res = await w.writeRamFrom(
      pieces(
        data,
        Array.from({ length: 100 }, (_, i) => i * 10_000 + 7),
      ),
      { chunkSize: 64 * 1024 },
    );
    await w.end();
    sink.end();
    await finished(sink);
    expect(res).toMatchObject({ bytes: 1 << 20, chunks: 16 });
    expect(res.digest).toHaveLength(32);
    expect(sink.maxBuffered).toBeLessThanOrEqual(16 * 1024 + 64 * 1024 + 32 + 64);
    expect(sink.maxBuffered).toBeGreaterThan(16 * 1024);
    const r = readStream(pieces(Buffer.concat(sink.parts), []));
    const got: Buffer[] = [];
    for await (const rec of r)
      if (rec.name === 'RAM_CHUNK') for await (const b of r.ramPayload(rec)) got.push(b);
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  test('keeps the output fed: the next record is queued before the sink runs empty', async () => {
    /** Counts the writes that found nothing queued behind them (the output about to go idle). */
    class CountingSink extends Writable {
      writes = 0;
      starved = 0;
      constructor() {
        super({ highWaterMark: 1024 });
      }
      override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
        this.writes += 1;
        if (this.writableLength <= c.length) this.starved += 1;
        setImmediate(cb);
      }
    }
    const sink = new CountingSink();
    const w = new StreamWriter(sink, { maxBuffered: 192 * 1024 });
    await w.writeStreamHeader();
    await w.writePhase(3);
    const data = B.pattern(2 << 20, 9);
    await w.writeRamFrom([data], { chunkSize: 64 * 1024 });
    await w.end();
    expect(sink.writes).toBeGreaterThan(32 * 3);
    // Only the stream's first writes and its tail find the queue empty; waiting for 'drain'
    // (an empty buffer) before each batch starved it once per batch, 10+ times here.
    expect(sink.starved).toBeLessThanOrEqual(4);
  });

  test('paces RAM chunks: each waits for the caller (flow control) before it goes out', async () => {
    const { out, bytes } = captured();
    const w = new StreamWriter(out);
    await w.writeStreamHeader();
    await w.writePhase(3);
    const asked: number[] = [];
    let release: () => void = () => {};
    const framing = w.writeRamFrom([B.pattern(150_000, 3)], {
      chunkSize: 64 * 1024,
      pace: (n) => {
        asked.push(n);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await new Promise((r) => setImmediate(r));
    const written = () => bytes().length;
    const before = written();
    expect(asked).toEqual([64 * 1024]);
    release();
    await new Promise((r) => setImmediate(r));
    // The first chunk went out (its record header and payload), the second waits for its turn.
    expect(written()).toBeGreaterThan(before + 64 * 1024);
    expect(asked).toEqual([64 * 1024, 64 * 1024]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(asked).toEqual([64 * 1024, 64 * 1024, 150_000 - 128 * 1024]);
    release();
    expect(await framing).toMatchObject({ bytes: 150_000, chunks: 3 });
  });

  test('flushIdleMs: a partial chunk goes out when the input goes quiet, and only then', async () => {
    async function* bursts(): AsyncGenerator<Buffer> {
      for (const burst of [3, 2]) {
        for (let i = 0; i < burst; i++) yield B.pattern(1000, i);
        await new Promise((r) => setTimeout(r, 60));
      }
    }
    const sizes = async (options: { flushIdleMs?: number }) => {
      const { out, bytes } = captured();
      const w = new StreamWriter(out);
      await w.writeStreamHeader();
      await w.writePhase(3);
      const res = await w.writeRamFrom(bursts(), { chunkSize: 64 * 1024, ...options });
      await w.end();
      const reader = readStream(Readable.from([bytes()]));
      await reader.headers();
      const chunks: number[] = [];
      for await (const rec of reader) if (rec.name === 'RAM_CHUNK') chunks.push(rec.value.length);
      expect(res.bytes).toBe(5000);
      return chunks;
    };
    expect(await sizes({ flushIdleMs: 20 })).toEqual([3000, 2000]);
    expect(await sizes({})).toEqual([5000]);
  });

  test('enforces order: header first, RAM_END after chunks, nothing after END', async () => {
    const w = new StreamWriter(new PassThrough());
    expect((await caught(w.writePhase(1))).code).toBe('STREAM_WRITER_STATE');
    await w.writeStreamHeader();
    expect((await caught(w.endRam())).code).toBe('STREAM_WRITER_STATE');
    await w.writeRamChunk(Buffer.from('x'));
    expect((await caught(w.end())).code).toBe('STREAM_WRITER_STATE');
    await w.endRam();
    expect((await caught(w.writeRamChunk(Buffer.from('y')))).code).toBe('STREAM_WRITER_STATE');
    await w.end();
    expect((await caught(w.writePhase(3))).code).toBe('STREAM_WRITER_STATE');
  });

  test('refuses chunks outside 1..4 MiB', async () => {
    const w = new StreamWriter(new PassThrough());
    await w.writeStreamHeader();
    expect((await caught(w.writeRamChunk(Buffer.alloc(0)))).code).toBe('STREAM_WRITER_STATE');
    expect((await caught(w.writeRamChunk(Buffer.alloc(4 * 1024 * 1024 + 1)))).code).toBe(
      'STREAM_WRITER_STATE',
    );
  });

  test('a failed output surfaces as STREAM_IO, with the failure as its cause', async () => {
    const out = new PassThrough();
    const w = new StreamWriter(out);
    out.destroy(new Error('EPIPE'));
    const e = await caught(w.writeStreamHeader());
    expect(e.code).toBe('STREAM_IO');
    expect((e.cause as Error).message).toBe('EPIPE');
  });

  test("a write that fails while the writer waits for room: the waiter gets the write's own error", async () => {
    const out = new Writable({
      highWaterMark: 16,
      write: (_c, _e, cb) => setImmediate(() => cb(new Error('ENOSPC'))),
    });
    out.on('error', () => undefined);
    const w = new StreamWriter(out, { maxBuffered: 16 });
    await w.writeStreamHeader();
    const e = await caught(w.writePhase(3).then(() => w.writePhase(3)));
    expect(e.code).toBe('STREAM_IO');
    expect((e.cause as Error).message).toBe('ENOSPC');
  });

  test('a zero budget on a zero high-water mark still writes (one record at a time)', async () => {
    const parts: Buffer[] = [];
    const out = new Writable({
      highWaterMark: 0,
      write: (c: Buffer, _e, cb) => setImmediate(() => (parts.push(c), cb())),
    });
    const w = new StreamWriter(out, { maxBuffered: 0 });
    await w.writeStreamHeader();
    await w.writePhase(3);
    await w.writeRamChunk(Buffer.from('abc'));
    await w.endRam();
    await w.end();
    expect(Buffer.concat(parts).length).toBeGreaterThan(16 + 3 * 8);
  });
});

describe('RAM payload to a consumer (restore side)', () => {
  async function stream(data: Buffer, chunk: number): Promise<Buffer> {
    const out = new PassThrough();
    const bytes: Buffer[] = [];
    out.on('data', (b: Buffer) => bytes.push(b));
    const w = new StreamWriter(out);
    await w.writeXlHeader({ name: 'vm' });
    await w.writeStreamHeader();
    await w.writePhase(3);
    await w.writeRamFrom(Readable.from([data]), { chunkSize: chunk });
    await w.end();
    return Buffer.concat(bytes);
  }

  test('pipes the verified payload into a socket-like Writable', async () => {
    const data = B.pattern(300_000, 11);
    const bytes = await stream(data, 65536);
    const r = readStream(pieces(bytes, [100, 5000, 70000, 70001]));
    const qemu: Buffer[] = [];
    const names: string[] = [];
    for await (const rec of r) {
      names.push(rec.name);
      if (rec.name === 'RAM_CHUNK') {
        await pipeline(
          Readable.from(r.ramPayload(rec)),
          new Writable({
            write(c: Buffer, _e, cb) {
              qemu.push(c);
              cb();
            },
          }),
        );
      }
    }
    expect(names).toEqual(['PHASE', 'RAM_CHUNK', 'END']);
    expect(Buffer.concat(qemu).equals(data)).toBe(true);
  });

  test('a corrupted chunk fails at that chunk, before its bytes are handed on', async () => {
    const data = B.pattern(300_000, 12);
    const bytes = await stream(data, 65536);
    const third = bytes.length - 300_000 - 5 * 32 - 56 - 8 - 8 + 2 * 65536 + 100; // inside chunk 3
    B.flip(bytes, third);
    const r = readStream(pieces(bytes, []));
    let handed = 0;
    const err = await (async () => {
      for await (const rec of r)
        if (rec.name === 'RAM_CHUNK') for await (const b of r.ramPayload(rec)) handed += b.length;
    })().catch((e: unknown) => e as StreamError);
    expect(err).toMatchObject({ code: 'STREAM_CHECKSUM' });
    expect(handed).toBe(2 * 65536);
  });

  test('a digest mismatch fails at the end of the payload iteration, before END', async () => {
    const data = B.pattern(100_000, 13);
    const bytes = await stream(data, 65536);
    const endAt = bytes.length - 8 - 64; // RAM_END record
    B.flip(bytes, endAt + 8 + 24 + 3); // a digest byte
    const r = readStream(pieces(bytes, []));
    let handed = 0;
    let sawEnd = false;
    const err = await (async () => {
      for await (const rec of r) {
        if (rec.name === 'END') sawEnd = true;
        if (rec.name === 'RAM_CHUNK') for await (const b of r.ramPayload(rec)) handed += b.length;
      }
    })().catch((e: unknown) => e as StreamError);
    expect(err).toMatchObject({ code: 'STREAM_DIGEST' });
    expect(handed).toBe(100_000);
    expect(sawEnd).toBe(false);
  });
});
