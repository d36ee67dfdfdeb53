import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { readStream } from '../stream-reader.js';
import { StreamWriter } from '../stream-writer.js';
import { RecordType } from '../record-types.js';
import * as B from '../testing/byte-builder.js';
import { captured } from '../testing/collect.js';

const H = B.streamHeader();
const E = B.end();
const json = (text: string) => Buffer.from(`${text}\0`);
async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function firstError(bytes: Buffer): Promise<string> {
  try {
    for await (const _ of readStream(once(bytes))) void _;
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('migration control records', () => {
  test('round trip through the writer and reader', async () => {
    const { out, bytes } = captured();
    const w = new StreamWriter(out);
    await w.writeStreamHeader();
    await w.writeRecord('MIGRATION_HELLO', {
      minVersion: 1,
      maxVersion: 2,
      features: ['ram-stream'],
      requires: [],
      software: 'test',
    });
    await w.writeRecord('PHASE_READY', { phase: 1 });
    await w.writePhase(3);
    await w.writeRamChunk(Buffer.from('abc'));
    await w.writeRecord('MIGRATION_ERROR', { stage: 'phase 3', message: 'interrupted' });
    await w.endRam();
    await w.end();
    const recs = [];
    for await (const r of readStream(once(bytes()))) recs.push(r);
    expect(recs.map((r) => r.name)).toEqual([
      'MIGRATION_HELLO',
      'PHASE_READY',
      'PHASE',
      'RAM_CHUNK',
      'MIGRATION_ERROR',
      'RAM_END',
      'END',
    ]);
    expect(recs[0]?.value).toMatchObject({
      minVersion: 1,
      maxVersion: 2,
      features: ['ram-stream'],
      requires: [],
    });
    expect(recs[4]?.value).toEqual({ stage: 'phase 3', message: 'interrupted' });
  });

  test.each([
    ['not NUL-terminated', Buffer.from('{"a":1}'), 'STREAM_BAD_RECORD'],
    ['not JSON', json('{oops'), 'STREAM_BAD_RECORD'],
    ['an array', json('[]'), 'STREAM_BAD_RECORD'],
    [
      'min above max',
      json('{"minVersion":3,"maxVersion":1,"features":[],"requires":[],"software":""}'),
      'STREAM_BAD_RECORD',
    ],
    [
      'version 0',
      json('{"minVersion":0,"maxVersion":1,"features":[],"requires":[],"software":""}'),
      'STREAM_BAD_RECORD',
    ],
    [
      'bad feature name',
      json('{"minVersion":1,"maxVersion":1,"features":["A B"],"requires":[],"software":""}'),
      'STREAM_BAD_RECORD',
    ],
    [
      'requires missing',
      json('{"minVersion":1,"maxVersion":1,"features":[],"software":""}'),
      'STREAM_BAD_RECORD',
    ],
    [
      'valid',
      json('{"minVersion":1,"maxVersion":1,"features":["x"],"requires":[],"software":"s","extra":1}'),
      'ok',
    ],
    [
      'with a hostname and boot id',
      json(
        '{"minVersion":1,"maxVersion":1,"features":[],"requires":[],"software":"s","hostname":"web2.example","bootId":"5f0c-9a"}',
      ),
      'ok',
    ],
    [
      'with a hostname holding terminal escapes',
      json(
        '{"minVersion":1,"maxVersion":1,"features":[],"requires":[],"software":"s","hostname":"a\\u001b[2Jb"}',
      ),
      'STREAM_BAD_RECORD',
    ],
    [
      'with a hostname that is not a string',
      json('{"minVersion":1,"maxVersion":1,"features":[],"requires":[],"software":"s","hostname":7}'),
      'STREAM_BAD_RECORD',
    ],
    [
      'with an overlong hostname',
      json(
        `{"minVersion":1,"maxVersion":1,"features":[],"requires":[],"software":"s","hostname":"${'a'.repeat(254)}"}`,
      ),
      'STREAM_BAD_RECORD',
    ],
  ])('MIGRATION_HELLO %s', async (_name, body, code) => {
    expect(await firstError(Buffer.concat([H, B.record(RecordType.MIGRATION_HELLO, body), E]))).toBe(code);
  });

  test('MIGRATION_HELLO at most once, and its length cap is checked before the body', async () => {
    const hello = B.record(
      RecordType.MIGRATION_HELLO,
      json('{"minVersion":1,"maxVersion":1,"features":[],"requires":[],"software":""}'),
    );
    expect(await firstError(Buffer.concat([H, hello, hello, E]))).toBe('STREAM_UNEXPECTED_RECORD');
    const huge = Buffer.concat([B.u32le(RecordType.MIGRATION_HELLO), B.u32le(1 << 20)]);
    expect(await firstError(Buffer.concat([H, huge]))).toBe('STREAM_BAD_LENGTH');
  });

  test('MIGRATION_ERROR and PHASE_READY field checks', async () => {
    expect(
      await firstError(
        Buffer.concat([H, B.record(RecordType.MIGRATION_ERROR, json('{"stage":1,"message":"x"}')), E]),
      ),
    ).toBe('STREAM_BAD_RECORD');
    const ready = (phase: number, reserved = 0) =>
      B.record(RecordType.PHASE_READY, Buffer.concat([B.u32le(phase), B.u32le(reserved)]));
    expect(await firstError(Buffer.concat([H, ready(4), E]))).toBe('STREAM_BAD_RECORD');
    expect(await firstError(Buffer.concat([H, ready(1, 1), E]))).toBe('STREAM_BAD_RECORD');
    expect(await firstError(Buffer.concat([H, ready(1), ready(3), E]))).toBe('ok');
  });

  test('RAM_CREDIT round trip and field checks', async () => {
    const { out, bytes } = captured();
    const w = new StreamWriter(out);
    await w.writeStreamHeader();
    await w.writeRecord('RAM_CREDIT', { bytes: 8 << 20 });
    await w.end();
    const recs = [];
    for await (const r of readStream(once(bytes()))) recs.push(r);
    expect(recs.map((r) => [r.name, r.value])).toEqual([
      ['RAM_CREDIT', { bytes: 8 << 20 }],
      ['END', null],
    ]);
    const bad = new StreamWriter(new PassThrough());
    await bad.writeStreamHeader();
    await expect(bad.writeRecord('RAM_CREDIT', { bytes: 0 })).rejects.toThrow(/RAM credit bytes/);
    const credit = (bytes: number, reserved = 0) =>
      B.record(RecordType.RAM_CREDIT, Buffer.concat([B.u32le(bytes), B.u32le(reserved)]));
    expect(await firstError(Buffer.concat([H, credit(0), E]))).toBe('STREAM_BAD_RECORD');
    expect(await firstError(Buffer.concat([H, credit((256 << 20) + 1), E]))).toBe('STREAM_BAD_RECORD');
    expect(await firstError(Buffer.concat([H, credit(4096, 1), E]))).toBe('STREAM_BAD_RECORD');
    expect(await firstError(Buffer.concat([H, credit(4096), credit(256 << 20), E]))).toBe('ok');
  });
});
