import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { StreamReader, StreamWriter } from '@xlkit/stream';
import { CorruptRamChunk } from './corrupt-ram-chunk.js';
import { parseFaults } from './faults.js';

async function stream(corrupt: number | undefined): Promise<Buffer> {
  const sink = new PassThrough();
  const out: Buffer[] = [];
  sink.on('data', (c: Buffer) => out.push(c));
  const head = corrupt === undefined ? sink : new CorruptRamChunk(corrupt);
  if (head !== sink) head.pipe(sink);
  const w = new StreamWriter(head);
  await w.writeXlHeader({ name: 'x' });
  await w.writeStreamHeader();
  await w.writePhase(3);
  for (let i = 0; i < 3; i++) await w.writeRamChunk(Buffer.alloc(1000, i + 1));
  await w.endRam();
  await w.end();
  head.write(Buffer.from('tail'));
  await new Promise((r) => setImmediate(r));
  return Buffer.concat(out);
}

/** Reads the bytes delivered in small pieces, to exercise framing across chunk borders. */
async function verdict(bytes: Buffer, piece: number): Promise<string> {
  async function* feed() {
    for (let i = 0; i < bytes.length; i += piece) yield bytes.subarray(i, i + piece);
  }
  const r = new StreamReader(feed(), { trailing: 'leave' });
  try {
    for await (const _ of r.records()) void _;
    return 'ok';
  } catch (err) {
    return `${(err as { code: string }).code} at ${(err as { offset: number }).offset}`;
  }
}

describe('test fault hooks', () => {
  test('parseFaults reads only well-formed entries', () => {
    expect(
      parseFaults({
        XLKIT_FAULT: 'corrupt-ram-chunk:2,receiver-stall:phase1,sender-stall:before-go,bogus:1',
      }),
    ).toEqual({ corruptRamChunk: 2, receiverStall: 'phase1', senderStall: 'before-go' });
    expect(parseFaults({ XLKIT_FAULT: 'receiver-stall:targets' })).toEqual({ receiverStall: 'targets' });
    expect(parseFaults({ XLKIT_FAULT: 'receiver-stall:postcopy' })).toEqual({ receiverStall: 'postcopy' });
    expect(parseFaults({ XLKIT_FAULT: 'receiver-stall:later' })).toEqual({});
    expect(parseFaults({ XLKIT_FAULT: 'corrupt-ram-chunk:0' })).toEqual({});
    expect(parseFaults({})).toEqual({});
    expect(parseFaults({ XLKIT_FAULT: 'nbd-drop:4000000,mirror-speed:65536,mirror-stall-ms:4000' })).toEqual({
      nbdDropAfter: 4000000,
      mirrorSpeed: 65536,
      mirrorStallMs: 4000,
    });
    expect(parseFaults({ XLKIT_FAULT: 'mirror-speed:0,nbd-drop:x' })).toEqual({});
    expect(parseFaults({ XLKIT_FAULT: 'receiver-lacks:ram-credit' })).toEqual({
      receiverLacks: 'ram-credit',
    });
    expect(parseFaults({ XLKIT_FAULT: 'receiver-lacks:Bad Name' })).toEqual({});
    expect(parseFaults({ XLKIT_FAULT: 'ram-dump:/run/xl-test/dump-1' })).toEqual({
      ramDumpDir: '/run/xl-test/dump-1',
    });
    expect(parseFaults({ XLKIT_FAULT: 'ram-dump:relative/dir,ram-dump:/a b' })).toEqual({});
    expect(parseFaults({ XLKIT_FAULT: 'upgrade-kill:ran,upgrade-barrier:4@/tmp/b-1' })).toEqual({
      upgradeKill: 'ran',
      barrier: { count: 4, dir: '/tmp/b-1' },
    });
    expect(
      parseFaults({ XLKIT_FAULT: 'upgrade-kill:later,upgrade-barrier:0@/tmp/b,upgrade-barrier:2@rel' }),
    ).toEqual({});
  });

  test('corrupt-ram-chunk flips one payload byte of exactly that chunk, which the reader catches there', async () => {
    const clean = await stream(undefined);
    const bad = await stream(2);
    expect(bad.length).toBe(clean.length);
    const diff = [...clean.keys()].filter((i) => clean[i] !== bad[i]);
    expect(diff).toHaveLength(1);
    expect(await verdict(clean, 7)).toBe('ok');
    const v = await verdict(bad, 7);
    expect(v).toMatch(/^STREAM_CHECKSUM at \d+$/);
    expect(bad.subarray(-4).toString()).toBe('tail');
  });
});
