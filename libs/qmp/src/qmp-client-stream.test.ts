import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { QmpClient } from './qmp-client.js';

/** An in-memory peer: what the client writes is collected; `feed` plays the server. */
function memoryStream(): { stream: Duplex; written: string[]; feed: (s: string) => void } {
  const written: string[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { stream, written, feed: (s) => stream.push(Buffer.from(s)) };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('QmpClient over an in-memory stream', () => {
  it('negotiates only after the greeting and enables oob when asked and offered', async () => {
    const { stream, written, feed } = memoryStream();
    const connecting = QmpClient.fromStream(stream, { oob: true });
    await tick();
    expect(written).toEqual([]);
    feed(
      '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "p"}, "capabilities": ["oob"]}}\r\n',
    );
    await tick();
    const neg = JSON.parse(written[0] ?? 'null') as { execute: string; arguments: unknown; id: string };
    expect(neg).toMatchObject({ execute: 'qmp_capabilities', arguments: { enable: ['oob'] } });
    feed(`{"return": {}, "id": ${JSON.stringify(neg.id)}}\r\n`);
    const client = await connecting;
    expect(client.greeting.version.package).toBe('p');

    const p = client.execute('migrate-pause', undefined, { oob: true });
    await tick();
    const sent = JSON.parse(written[1] ?? 'null') as { 'exec-oob': string; id: string };
    expect(sent['exec-oob']).toBe('migrate-pause');
    feed(`{"return": {}, "id": ${JSON.stringify(sent.id)}}\n`);
    expect(await p).toEqual({});
    await client.close();
    expect(stream.destroyed).toBe(true);
  });

  it('fails the handshake when the stream ends before the greeting', async () => {
    const { stream } = memoryStream();
    const connecting = QmpClient.fromStream(stream);
    stream.push(null);
    stream.destroy();
    await expect(connecting).rejects.toMatchObject({ code: 'QMP_CONNECT' });
  });
});
