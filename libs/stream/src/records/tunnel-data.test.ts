import { PassThrough } from 'node:stream';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { StreamError } from '../errors.js';
import { StreamReader } from '../stream-reader.js';
import { StreamWriter } from '../stream-writer.js';
import { TUNNEL_DATA, TUNNEL_DATA_HEADER, TUNNEL_DATA_TYPE } from './tunnel-data.js';

const payload = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) & 0xff));

function encoded(chunks: Buffer[]): Buffer {
  return Buffer.concat(
    TUNNEL_DATA.encode({ channel: 2, chunks, length: chunks.reduce((n, c) => n + c.length, 0) }),
  );
}

function thrown(fn: () => unknown): StreamError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StreamError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

/** A whole stream with one TUNNEL_DATA record; its body offset in that stream. */
async function streamWith(chunks: Buffer[]): Promise<{ bytes: Buffer; bodyAt: number }> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  const w = new StreamWriter(out);
  await w.writeStreamHeader();
  await w.writePhase(2);
  const before = Buffer.concat(parts).length;
  await w.writeRecord('TUNNEL_DATA', {
    channel: 1,
    chunks,
    length: chunks.reduce((n, c) => n + c.length, 0),
  });
  await w.end();
  return { bytes: Buffer.concat(parts), bodyAt: before + 8 };
}

async function* sliced(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('TUNNEL_DATA crc32', () => {
  it('stores the crc32 of the payload, the same over any split of it into chunks', () => {
    const whole = encoded([payload]);
    expect(whole.readUInt32LE(4)).toBe(zlibCrc32(payload));
    const split = encoded([payload.subarray(0, 1), payload.subarray(1, 4097), payload.subarray(4097)]);
    expect(split.equals(whole)).toBe(true);
  });

  it('round-trips through a writer and a reader fed in odd slices', async () => {
    const { bytes } = await streamWith([payload.subarray(0, 100), payload.subarray(100)]);
    const r = new StreamReader(sliced(bytes, 333), { xlHeader: 'absent' });
    expect((await r.next())?.name).toBe('PHASE');
    const rec = await r.next();
    if (rec?.name !== 'TUNNEL_DATA') throw new Error(`got ${rec?.name}`);
    expect(Buffer.concat(rec.value.chunks).equals(payload)).toBe(true);
    expect((await r.next())?.name).toBe('END');
  });

  it('refuses a flipped payload byte, naming the record offset, type and both crcs', async () => {
    const { bytes, bodyAt } = await streamWith([payload]);
    bytes[bodyAt + TUNNEL_DATA_HEADER + 4096]! ^= 0x10;
    const r = new StreamReader(sliced(bytes, 1000), { xlHeader: 'absent' });
    await r.next();
    const err = await r.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StreamError);
    const e = err as StreamError;
    expect(e.code).toBe('STREAM_CHECKSUM');
    expect(e.offset).toBe(bodyAt);
    expect(e.recordType).toBe(TUNNEL_DATA_TYPE);
    expect(e.expected).toBe(`0x${zlibCrc32(payload).toString(16).padStart(8, '0')}`);
    expect(e.actual).not.toBe(e.expected);
    expect(e.message).toMatch(/^STREAM_CHECKSUM at byte \d+: tunnel data crc32 mismatch/);
  });

  it('refuses a zero crc (a peer without tunnel-crc) unless the payload crc is 0', () => {
    const body = encoded([payload]);
    body.writeUInt32LE(0, 4);
    const e = thrown(() => TUNNEL_DATA.decode([body], body.length, 64, {}));
    expect(e.code).toBe('STREAM_CHECKSUM');
    expect(e.offset).toBe(64);
    expect(e.expected).toBe('0x00000000');
    // crc32 of four zero bytes is not 0, but of the empty string it is: the minimum payload is 1.
    const zeros = encoded([Buffer.alloc(4)]);
    expect(zeros.readUInt32LE(4)).not.toBe(0);
  });

  it('checks a body split inside its header and payload, without copying the payload', () => {
    const all = encoded([payload]);
    const parts = [all.subarray(0, 3), all.subarray(3, 2000), all.subarray(2000)];
    const v = TUNNEL_DATA.decode(parts, all.length, 0, {});
    expect(Buffer.concat(v.chunks).equals(payload)).toBe(true);
    expect(v.chunks.every((c) => c.buffer === all.buffer)).toBe(true);
    all[all.length - 1]! ^= 1;
    expect(() => TUNNEL_DATA.decode(parts, all.length, 0, {})).toThrow(/crc32 mismatch/);
  });
});
