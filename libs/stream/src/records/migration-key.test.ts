import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { StreamWriter } from '../stream-writer.js';
import { readStream } from '../stream-reader.js';
import { captured } from '../testing/collect.js';
import { RECORD_CODECS } from '../record-types.js';
import { MIGRATION_KEY_BYTES, MigrationKey } from './migration-key.js';

async function records(bytes: Buffer) {
  const out = [];
  for await (const r of readStream(
    (async function* () {
      yield bytes;
    })(),
  ))
    out.push(r);
  return out;
}

/** A stream header, then a MIGRATION_KEY record with `body`, then END: written by hand. */
async function rawStream(body: Buffer, declared = body.length): Promise<Buffer> {
  const { out, bytes } = captured();
  const w = new StreamWriter(out);
  await w.writeStreamHeader();
  const header = Buffer.alloc(8);
  header.writeUInt32LE(RECORD_CODECS.MIGRATION_KEY.type, 0);
  header.writeUInt32LE(declared, 4);
  const pad = Buffer.alloc((8 - (body.length % 8)) % 8);
  const end = Buffer.alloc(8);
  return Buffer.concat([bytes(), header, body, pad, end]);
}

describe('MIGRATION_KEY', () => {
  test('a key round trips through the writer and reader, bytes intact', async () => {
    const key = MigrationKey.generate();
    const { out, bytes } = captured();
    const w = new StreamWriter(out);
    await w.writeStreamHeader();
    await w.writeRecord('MIGRATION_KEY', key);
    await w.end();
    const recs = await records(bytes());
    expect(recs.map((r) => r.name)).toEqual(['MIGRATION_KEY', 'END']);
    const got = recs[0]?.value as MigrationKey;
    expect(got.hex()).toBe(key.hex());
    expect(got.hex()).toMatch(/^[0-9a-f]{64}$/);
  });

  test('two generated keys differ', () => {
    expect(MigrationKey.generate().hex()).not.toBe(MigrationKey.generate().hex());
  });

  test('a body of any other length is refused before it is read', async () => {
    for (const n of [0, 16, 31, 33, 64]) {
      await expect(records(await rawStream(Buffer.alloc(n, 7))), `${n} bytes`).rejects.toMatchObject({
        code: 'STREAM_BAD_LENGTH',
      });
    }
  });

  test('an all-zero key is refused', async () => {
    await expect(records(await rawStream(Buffer.alloc(MIGRATION_KEY_BYTES)))).rejects.toMatchObject({
      code: 'STREAM_BAD_RECORD',
    });
    expect(() => new MigrationKey(Buffer.alloc(MIGRATION_KEY_BYTES))).toThrow(/all zero/);
    expect(() => new MigrationKey(Buffer.alloc(31, 1))).toThrow(/length/);
  });

  test('a second key in one stream is refused', async () => {
    const body = Buffer.alloc(MIGRATION_KEY_BYTES, 9);
    const once = await rawStream(body);
    const header = once.subarray(once.length - 8 - 8 - MIGRATION_KEY_BYTES, once.length - 8);
    const twice = Buffer.concat([once.subarray(0, once.length - 8), header, once.subarray(once.length - 8)]);
    await expect(records(twice)).rejects.toMatchObject({ code: 'STREAM_UNEXPECTED_RECORD' });
  });

  test('no printed form shows the key', () => {
    const key = MigrationKey.generate();
    const hex = key.hex();
    for (const shown of [
      String(key),
      `${key}`,
      JSON.stringify({ key }),
      inspect(key),
      inspect({ nested: { key } }, { depth: 5 }),
      RECORD_CODECS.MIGRATION_KEY.summary(key),
    ]) {
      expect(shown).not.toContain(hex);
      expect(shown).not.toContain(hex.slice(0, 8));
    }
    expect(RECORD_CODECS.MIGRATION_KEY.summary(key)).toBe('32-byte migration key (not shown)');
  });
});
