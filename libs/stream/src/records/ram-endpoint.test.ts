import { describe, expect, test } from 'vitest';
import { StreamWriter } from '../stream-writer.js';
import { readStream } from '../stream-reader.js';
import { captured } from '../testing/collect.js';
import { checkRamEndpoint } from './ram-endpoint.js';

const code = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
};

describe('RAM_ENDPOINT', () => {
  test('a tcp and a unix endpoint round trip through the writer and reader', async () => {
    const { out, bytes } = captured();
    const w = new StreamWriter(out);
    await w.writeStreamHeader();
    await w.writeRecord('RAM_ENDPOINT', { transport: 'tcp', host: '10.0.0.2', port: 40123 });
    await w.end();
    const recs = [];
    for await (const r of readStream(
      (async function* () {
        yield bytes();
      })(),
    ))
      recs.push(r);
    expect(recs.map((r) => r.name)).toEqual(['RAM_ENDPOINT', 'END']);
    expect(recs[0]?.value).toEqual({ transport: 'tcp', host: '10.0.0.2', port: 40123 });
    expect(checkRamEndpoint({ transport: 'unix', path: '/run/xl/7/ram.sock', extra: 1 })).toEqual({
      transport: 'unix',
      path: '/run/xl/7/ram.sock',
    });
    expect(checkRamEndpoint({ transport: 'tcp', host: 'fe80::1', port: 1 })).toMatchObject({
      host: 'fe80::1',
    });
  });

  test('refuses host names, shell-ish hosts, bad ports, relative or long paths, other transports', () => {
    for (const bad of [
      { transport: 'tcp', host: 'evil.example', port: 1 },
      { transport: 'tcp', host: '1.2.3.4;rm', port: 1 },
      { transport: 'tcp', host: '1.2.3.4', port: 0 },
      { transport: 'tcp', host: '1.2.3.4', port: 65536 },
      { transport: 'tcp', host: '1.2.3.4', port: '80' },
      { transport: 'unix', path: 'relative.sock' },
      { transport: 'unix', path: `/${'a'.repeat(107)}` },
      { transport: 'exec', path: '/bin/sh' },
    ]) {
      expect(
        code(() => checkRamEndpoint(bad)),
        JSON.stringify(bad),
      ).toBe('STREAM_BAD_RECORD');
    }
  });
});
