import { PassThrough, Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { StreamWriter } from './stream-writer.js';
import { decodeAll, outcome, pieces } from './testing/collect.js';
import * as B from './testing/byte-builder.js';
import { DOMAIN_INFO_JSON } from './testing/byte-builder.js';

class Collect extends Writable {
  parts: Buffer[] = [];
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.parts.push(Buffer.from(c));
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

describe('golden streams built from the spec tables', () => {
  test('Xen minimal stream: header + END', async () => {
    const bytes = Buffer.concat([B.streamHeader(), B.end()]);
    expect(bytes.toString('hex')).toBe('4c6962786c466d74' + '00000002' + '00000000' + '0000000000000000');
    const d = await decodeAll(pieces(bytes, []));
    expect(d.records.map((r) => r.name)).toEqual(['END']);
  });

  test('Xen save file: xl header + config + header + EMULATOR_CONTEXT + END', async () => {
    const blob = Buffer.from('QEVM device state');
    const bytes = Buffer.concat([
      B.xlHeader('{"c_info":{"name":"vm1"}}'),
      B.streamHeader(),
      B.emulatorContext(blob),
      B.end(),
    ]);
    expect(bytes.subarray(32, 36).toString('hex')).toBe('04030201');
    const d = await decodeAll(pieces(bytes, []));
    expect(d.xlConfig).toEqual({ c_info: { name: 'vm1' } });
    expect(d.records).toEqual([
      {
        name: 'EMULATOR_CONTEXT',
        offset: 48 + 4 + 26 + 16,
        length: 8 + blob.length,
        ram: blob.toString('hex'),
      },
      { name: 'END', offset: 48 + 4 + 26 + 16 + 8 + 32, length: 0, summary: 'null' },
    ]);
  });

  test('xlkit stream with phases, domain info and RAM', async () => {
    const ram = B.pattern(10_000);
    const d = await decodeAll(pieces(B.fullStream(ram, 4096), []));
    expect(d.records.map((r) => r.name)).toEqual([
      'PHASE',
      'DOMAIN_INFO',
      'PHASE',
      'RAM_CHUNK',
      'RAM_CHUNK',
      'RAM_CHUNK',
      'RAM_END',
      'END',
    ]);
    const got = d.records
      .filter((r) => r.name === 'RAM_CHUNK')
      .map((r) => r.ram)
      .join('');
    expect(got).toBe(ram.toString('hex'));
  });

  test('the writer produces the same bytes as the builder', async () => {
    const ram = B.pattern(9_000, 7);
    const sink = new Collect();
    const w = new StreamWriter(sink);
    await w.writeXlHeader('{"name":"vm1"}');
    await w.writeStreamHeader();
    await w.writePhase(1);
    await w.writeDomainInfo(DOMAIN_INFO_JSON);
    await w.writePhase(3);
    const src = new PassThrough();
    src.end(ram);
    const res = await w.writeRamFrom(src, { chunkSize: 4096 });
    await w.end();
    expect(res).toMatchObject({ bytes: 9000, chunks: 3 });
    expect(sink.bytes.equals(B.fullStream(ram, 4096))).toBe(true);
    expect(w.bytesWritten).toBe(sink.bytes.length);
  });

  test('the writer can write a Xen-compatible stream', async () => {
    const sink = new Collect();
    const w = new StreamWriter(sink);
    await w.writeXlHeader({ c_info: { name: 'vm1' } });
    await w.writeStreamHeader();
    await w.writeRecord('EMULATOR_CONTEXT', { emulatorId: 2, index: 0, data: Buffer.from('abc') });
    await w.end();
    const expected = Buffer.concat([
      B.xlHeader('{"c_info":{"name":"vm1"}}'),
      B.streamHeader(),
      B.emulatorContext(Buffer.from('abc')),
      B.end(),
    ]);
    expect(sink.bytes.equals(expected)).toBe(true);
  });

  test('records at every length mod 8 exercise padding', async () => {
    for (let n = 0; n < 8; n++) {
      const bytes = Buffer.concat([B.streamHeader(), B.emulatorContext(Buffer.alloc(n, 0xaa)), B.end()]);
      expect(await outcome(bytes)).toBe('ok');
      const bad = Buffer.concat([
        B.streamHeader(),
        B.record(B.T.EMULATOR_CONTEXT, Buffer.concat([B.emu(), Buffer.alloc(n, 0xaa)]), 1),
        B.end(),
      ]);
      expect(await outcome(bad)).toBe((8 + n) % 8 === 0 ? 'ok' : 'STREAM_BAD_PADDING');
    }
  });
});
