import { PassThrough, Readable } from 'node:stream';
import { expect, test } from 'vitest';
import { ByteSource } from './byte-source.js';
import { StreamError } from './errors.js';

test('reads exact lengths across chunks as slices of the input', async () => {
  const a = Buffer.from('abcdef');
  const b = Buffer.from('ghij');
  const src = new ByteSource(Readable.from([a, b]));
  expect((await src.peek(3)).toString()).toBe('abc');
  const parts = await src.read(8, 'x');
  expect(Buffer.concat(parts).toString()).toBe('abcdefgh');
  expect(parts[0]?.buffer).toBe(a.buffer);
  expect(src.offset).toBe(8);
  await src.skip(1, 'y');
  expect((await src.readContiguous(1, 'z')).toString()).toBe('j');
  expect(await src.atEnd()).toBe(true);
});

test('the visitor sees every slice as it arrives', async () => {
  const src = new ByteSource(Readable.from([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')]));
  const seen: string[] = [];
  await src.read(5, 'x', (s) => seen.push(s.toString()));
  expect(seen).toEqual(['ab', 'cd', 'e']);
});

test('a short input is STREAM_TRUNCATED at the byte where it ended; a failing input is STREAM_IO', async () => {
  const src = new ByteSource(Readable.from([Buffer.from('abc')]));
  await expect(src.read(5, 'a header')).rejects.toMatchObject({ code: 'STREAM_TRUNCATED', offset: 3 });
  const pt = new PassThrough();
  const failing = new ByteSource(pt);
  pt.destroy(new Error('ECONNRESET'));
  const err = await failing.read(1, 'x').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(StreamError);
  expect((err as StreamError).code).toBe('STREAM_IO');
});

test('a Readable is paused while more than the limit waits, and resumed as it is taken', async () => {
  const pt = new PassThrough({ highWaterMark: 1024 });
  const src = new ByteSource(pt);
  for (let i = 0; i < 12; i++) pt.write(Buffer.alloc(1024 * 1024, i));
  pt.end();
  await src.fill(1);
  await new Promise((r) => setImmediate(r));
  expect(src.maxBuffered).toBeLessThanOrEqual(10 * 1024 * 1024);
  let total = 0;
  while (!(await src.atEnd()))
    total += (await src.read(Math.min(src.buffered, 1 << 20), 'x')).reduce((n, b) => n + b.length, 0);
  expect(total).toBe(12 * 1024 * 1024);
});

test('rest() yields the buffered bytes, then the remainder of the input', async () => {
  const src = new ByteSource(Readable.from([Buffer.from('head|tail-1'), Buffer.from('tail-2')]));
  await src.read(5, 'x');
  const rest: string[] = [];
  for await (const b of src.rest()) rest.push(b.toString());
  expect(rest.join('')).toBe('tail-1tail-2');
});
