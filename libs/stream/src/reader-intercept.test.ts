import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';
import type { StreamRecord } from './record-types.js';

async function build(fn: (w: StreamWriter) => Promise<void>): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  const w = new StreamWriter(out);
  await w.writeStreamHeader();
  await fn(w);
  await w.end();
  return Buffer.concat(parts);
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

describe('StreamReader.intercept', () => {
  it('takes tunnel records out wherever they fall, also inside the RAM stream', async () => {
    const bytes = await build(async (w) => {
      await w.writePhase(1);
      await w.writeRecord('TUNNEL_OPEN', { channel: 1, service: 1 });
      await w.writePhase(3);
      await w.writeRamChunk(Buffer.from('abc'));
      await w.writeRecord('TUNNEL_DATA', { channel: 1, chunks: [Buffer.from('x')], length: 1 });
      await w.writeRamChunk(Buffer.from('def'));
      await w.endRam();
      await w.writeRecord('TUNNEL_CLOSE', { channel: 1, reset: false });
    });
    const r = new StreamReader(once(bytes), { xlHeader: 'absent' });
    const taken: string[] = [];
    r.intercept = (rec: StreamRecord) => {
      if (!rec.name.startsWith('TUNNEL_')) return false;
      taken.push(rec.name);
      return true;
    };
    expect((await r.next())?.name).toBe('PHASE');
    expect((await r.next())?.name).toBe('PHASE');
    const ram: Buffer[] = [];
    for await (const b of r.ramPayload()) ram.push(b);
    expect(Buffer.concat(ram).toString()).toBe('abcdef');
    expect((await r.next())?.name).toBe('END');
    expect(taken).toEqual(['TUNNEL_OPEN', 'TUNNEL_DATA', 'TUNNEL_CLOSE']);
  });

  it('without intercept, tunnel records are ordinary records', async () => {
    const bytes = await build(async (w) => {
      await w.writeRecord('TUNNEL_CREDIT', { channel: 2, bytes: 10 });
    });
    const r = new StreamReader(once(bytes), { xlHeader: 'absent' });
    expect((await r.next())?.name).toBe('TUNNEL_CREDIT');
  });
});
