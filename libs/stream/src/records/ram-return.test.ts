import { describe, expect, test } from 'vitest';
import { StreamWriter } from '../stream-writer.js';
import { readStream } from '../stream-reader.js';
import { captured } from '../testing/collect.js';

describe('RAM_RETURN', () => {
  test('carries raw bytes of any length up to 64 KiB, padded on the wire, exact on read', async () => {
    const { out, bytes } = captured();
    const w = new StreamWriter(out);
    await w.writeStreamHeader();
    const small = Buffer.from([1, 2, 3]);
    const big = Buffer.alloc(64 * 1024, 7);
    await w.writeRecord('RAM_RETURN', { chunks: [small], length: 3 });
    await w.writeRecord('RAM_RETURN', {
      chunks: [big.subarray(0, 100), big.subarray(100)],
      length: big.length,
    });
    await w.end();
    const got: Buffer[] = [];
    for await (const r of readStream(
      (async function* () {
        yield bytes();
      })(),
    )) {
      if (r.name === 'RAM_RETURN') got.push(Buffer.concat(r.value.chunks));
    }
    expect(got).toEqual([small, big]);
  });

  test('the writer refuses an empty, oversize or misdeclared payload', async () => {
    const w = new StreamWriter(captured().out);
    await w.writeStreamHeader();
    for (const v of [
      { chunks: [], length: 0 },
      { chunks: [Buffer.alloc(64 * 1024 + 1)], length: 64 * 1024 + 1 },
      { chunks: [Buffer.alloc(5)], length: 4 },
    ]) {
      await expect(w.writeRecord('RAM_RETURN', v)).rejects.toMatchObject({ code: 'STREAM_WRITER_STATE' });
    }
  });
});
