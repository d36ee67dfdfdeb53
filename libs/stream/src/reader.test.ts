import { describe, expect, test } from 'vitest';
import { StreamError } from './errors.js';
import { readStream, StreamReader } from './stream-reader.js';
import { outcome, pieces } from './testing/collect.js';
import * as B from './testing/byte-builder.js';

const H = B.streamHeader();
const E = B.end();
const ram = B.pattern(5000, 3);
const cat = (...b: Buffer[]) => Buffer.concat(b);

function xlWith(patch: (b: Buffer) => void, json = '{"a":1}'): Buffer {
  const x = B.xlHeader(json);
  patch(x);
  return cat(x, H, E);
}

describe('reader checks (Xen note section 8.4)', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['valid minimal', cat(H, E), 'ok'],
    ['xl magic', xlWith((b) => B.flip(b, 20)), 'STREAM_BAD_MAGIC'],
    ['xl magic start looks like no xl header', xlWith((b) => B.flip(b, 5)), 'STREAM_BAD_IDENT'],
    ['swapped byteorder', xlWith((b) => b.writeUInt32BE(0x01020304, 32)), 'STREAM_BAD_BYTE_ORDER'],
    ['unknown mandatory flag', xlWith((b) => b.writeUInt32LE(7, 36)), 'STREAM_BAD_FLAGS'],
    ['v1 stream flag', xlWith((b) => b.writeUInt32LE(1, 36)), 'STREAM_UNSUPPORTED'],
    ['optional_data_len < 4', xlWith((b) => b.writeUInt32LE(3, 44)), 'STREAM_BAD_CONFIG'],
    ['optional_data_len huge', xlWith((b) => b.writeUInt32LE(0xffffffff, 44)), 'STREAM_TOO_LONG'],
    ['config length too big', xlWith((b) => b.writeUInt32LE(100, 48)), 'STREAM_BAD_CONFIG'],
    [
      'config missing NUL',
      xlWith((b) => {
        b[b.length - 1] = 0x20;
      }),
      'STREAM_BAD_CONFIG',
    ],
    ['config not JSON', xlWith(() => undefined, '{nope'), 'STREAM_BAD_CONFIG'],
    ['ident bit', cat(Buffer.from('LibxlFmu'), H.subarray(8), E), 'STREAM_BAD_IDENT'],
    ['version 1', cat(B.streamHeader(1), E), 'STREAM_BAD_VERSION'],
    ['version 3', cat(B.streamHeader(3), E), 'STREAM_BAD_VERSION'],
    ['big-endian bit', cat(B.streamHeader(2, 1), E), 'STREAM_BAD_OPTIONS'],
    ['legacy bit', cat(B.streamHeader(2, 2), E), 'STREAM_BAD_OPTIONS'],
    ['reserved bit 31', cat(B.streamHeader(2, 0x80000000), E), 'STREAM_BAD_OPTIONS'],
    ['empty input', Buffer.alloc(0), 'STREAM_TRUNCATED'],
    ['missing END', H, 'STREAM_TRUNCATED'],
    ['two ENDs', cat(H, E, E), 'STREAM_TRAILING_DATA'],
    ['trailing garbage', cat(H, E, Buffer.from('x')), 'STREAM_TRAILING_DATA'],
    ['length 0xFFFFFFFF', cat(H, B.u32le(3), B.u32le(0xffffffff)), 'STREAM_TOO_LONG'],
    ['length past EOF', cat(H, B.u32le(3), B.u32le(64), Buffer.alloc(16)), 'STREAM_TRUNCATED'],
    ['unknown mandatory', cat(H, B.record(0x584c7777), E), 'STREAM_UNKNOWN_RECORD'],
    ['unknown optional is skipped', cat(H, B.record(0xd84c7777, Buffer.alloc(13, 9)), E), 'ok'],
    ['END with a body', cat(H, B.record(0, Buffer.alloc(8))), 'STREAM_BAD_LENGTH'],
    ['emulator record too short', cat(H, B.record(3, Buffer.alloc(7)), E), 'STREAM_BAD_LENGTH'],
    ['emulator id 7', cat(H, B.record(3, B.emu(7)), E), 'STREAM_BAD_RECORD'],
    ['LIBXC_CONTEXT', cat(H, B.record(1), E), 'STREAM_UNSUPPORTED'],
    ['CHECKPOINT_END outside checkpoint', cat(H, B.record(4), E), 'STREAM_UNEXPECTED_RECORD'],
    ['CHECKPOINT_STATE length 0', cat(H, B.record(5), E), 'STREAM_BAD_LENGTH'],
    ['xenstore empty key', cat(H, B.record(2, cat(B.emu(), Buffer.from('\0v\0'))), E), 'STREAM_BAD_RECORD'],
    [
      'xenstore absolute key',
      cat(H, B.record(2, cat(B.emu(), Buffer.from('/k\0v\0'))), E),
      'STREAM_BAD_RECORD',
    ],
    ['xenstore odd strings', cat(H, B.record(2, cat(B.emu(), Buffer.from('k\0'))), E), 'STREAM_BAD_RECORD'],
    ['xenstore no final NUL', cat(H, B.record(2, cat(B.emu(), Buffer.from('k\0v'))), E), 'STREAM_BAD_RECORD'],
    ['xenstore valid', cat(H, B.record(2, cat(B.emu(), Buffer.from('physmap/1/name\0ram\0'))), E), 'ok'],
    ['PHASE length 4', cat(H, B.record(B.T.PHASE, Buffer.alloc(4)), E), 'STREAM_BAD_LENGTH'],
    ['PHASE 4', cat(H, B.phase(4), E), 'STREAM_BAD_RECORD'],
    ['phases out of order', cat(H, B.phase(3), B.phase(1), E), 'STREAM_PHASE_ORDER'],
    ['phase repeated', cat(H, B.phase(1), B.phase(1), E), 'STREAM_PHASE_ORDER'],
    ['domain info outside phase 1', cat(H, B.domainInfo(), E), 'STREAM_PHASE_ORDER'],
    ['domain info twice', cat(H, B.phase(1), B.domainInfo(), B.domainInfo(), E), 'STREAM_UNEXPECTED_RECORD'],
    [
      'domain info bad field',
      cat(H, B.phase(1), B.domainInfo({ ...B.DOMAIN_INFO_JSON, vcpus: 0 }), E),
      'STREAM_BAD_RECORD',
    ],
    [
      'domain info exact memory',
      cat(H, B.phase(1), B.domainInfo({ ...B.DOMAIN_INFO_JSON, memoryBytes: 64 * 1048576 + 8192 }), E),
      'ok',
    ],
    [
      'domain info memoryBytes below memoryMiB',
      cat(H, B.phase(1), B.domainInfo({ ...B.DOMAIN_INFO_JSON, memoryBytes: 63 * 1048576 }), E),
      'STREAM_BAD_RECORD',
    ],
    [
      'domain info memoryBytes a MiB over',
      cat(H, B.phase(1), B.domainInfo({ ...B.DOMAIN_INFO_JSON, memoryBytes: 65 * 1048576 }), E),
      'STREAM_BAD_RECORD',
    ],
    [
      'domain info memoryBytes not whole pages',
      cat(H, B.phase(1), B.domainInfo({ ...B.DOMAIN_INFO_JSON, memoryBytes: 64 * 1048576 + 100 }), E),
      'STREAM_BAD_RECORD',
    ],
    [
      'domain info memoryBytes not QEMU 8 KiB granules',
      cat(H, B.phase(1), B.domainInfo({ ...B.DOMAIN_INFO_JSON, memoryBytes: 64 * 1048576 + 4096 }), E),
      'STREAM_BAD_RECORD',
    ],
    [
      'domain info memoryBytes not a number',
      cat(H, B.phase(1), B.domainInfo({ ...B.DOMAIN_INFO_JSON, memoryBytes: '64M' }), E),
      'STREAM_BAD_RECORD',
    ],
    ['RAM chunk before phase 3', cat(H, ...B.ramStream(ram, 4096), E), 'STREAM_PHASE_ORDER'],
    [
      'RAM without RAM_END',
      cat(H, B.phase(3), ...B.ramStream(ram, 4096).slice(0, 2), E),
      'STREAM_RAM_INCOMPLETE',
    ],
    [
      'RAM_END without chunks',
      cat(H, B.phase(3), ...B.ramStream(ram, 4096).slice(2), E),
      'STREAM_UNEXPECTED_RECORD',
    ],
    [
      'chunks swapped',
      (() => {
        const r = B.ramStream(ram, 1000);
        return cat(H, B.phase(3), r[1]!, r[0]!, ...r.slice(2), E);
      })(),
      'STREAM_BAD_OFFSET',
    ],
    [
      'chunk duplicated',
      (() => {
        const r = B.ramStream(ram, 1000);
        return cat(H, B.phase(3), r[0]!, r[0]!, ...r.slice(1), E);
      })(),
      'STREAM_BAD_OFFSET',
    ],
    [
      'chunk missing',
      (() => {
        const r = B.ramStream(ram, 1000);
        return cat(H, B.phase(3), r[0]!, ...r.slice(2), E);
      })(),
      'STREAM_BAD_OFFSET',
    ],
    [
      'last chunk missing',
      (() => {
        const r = B.ramStream(ram, 1000);
        return cat(H, B.phase(3), ...r.slice(0, 4), r[5]!, E);
      })(),
      'STREAM_DIGEST',
    ],
    [
      'record inside RAM stream',
      (() => {
        const r = B.ramStream(ram, 1000);
        return cat(H, B.phase(3), r[0]!, B.emulatorContext(Buffer.alloc(1)), ...r.slice(1), E);
      })(),
      'STREAM_UNEXPECTED_RECORD',
    ],
    [
      'chunk after RAM_END',
      (() => {
        const r = B.ramStream(ram, 1000);
        return cat(H, B.phase(3), ...r, r[0]!, E);
      })(),
      'STREAM_UNEXPECTED_RECORD',
    ],
  ];
  test.each(cases)('%s', async (_name, bytes, expected) => {
    expect(await outcome(bytes)).toBe(expected);
  });

  test('a payload byte flip is caught at that chunk', async () => {
    const bytes = cat(H, B.phase(3), ...B.ramStream(ram, 1000), E);
    const at = 16 + 16 + (8 + 1024) * 2 + 8 + 24 + 500; // inside the third chunk's payload
    B.flip(bytes, at, 0x10);
    const err = await readAll(bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe('STREAM_CHECKSUM');
    expect((err as StreamError).offset).toBe(16 + 16 + (8 + 1024) * 2 + 8);
  });

  test('a consistent chunk rewrite (payload and crc) is caught by the digest', async () => {
    const r = B.ramStream(ram, 1000);
    const other = B.ramStream(B.pattern(5000, 99), 1000);
    const bytes = cat(H, B.phase(3), r[0]!, other[1]!, ...r.slice(2), E);
    expect(await outcome(bytes)).toBe('STREAM_DIGEST');
  });

  test('the cap is checked before reading: a custom cap refuses a valid record', async () => {
    const bytes = cat(H, B.emulatorContext(Buffer.alloc(100)), E);
    expect(await outcome(bytes, [], { maxRecordLength: 64 })).toBe('STREAM_TOO_LONG');
  });

  test('xlHeader "required" reports a bad magic even in the first bytes', async () => {
    expect(
      await outcome(
        xlWith((b) => B.flip(b, 5)),
        [],
        { xlHeader: 'required' },
      ),
    ).toBe('STREAM_BAD_MAGIC');
  });

  test('xlHeader "required": a short text file is not an xl save file; a cut-off header is truncated', async () => {
    const text = Buffer.from('name = "web"\n');
    expect(await outcome(text, [], { xlHeader: 'required' })).toBe('STREAM_BAD_MAGIC');
    expect(await outcome(Buffer.alloc(0), [], { xlHeader: 'required' })).toBe('STREAM_BAD_MAGIC');
    expect(await outcome(xlWith((b) => b).subarray(0, 20), [], { xlHeader: 'required' })).toBe(
      'STREAM_TRUNCATED',
    );
    const err = await new StreamReader(pieces(text, []), { xlHeader: 'required' })
      .headers()
      .catch((e: unknown) => e);
    expect((err as StreamError).message).toContain('not an xl save file');
  });

  test('checkpointed streams accept CHECKPOINT_END', async () => {
    expect(await outcome(cat(H, B.record(4), E), [], { checkpointed: true })).toBe('ok');
  });

  test('errors carry offset, record type, expected and got', async () => {
    const err = await readAll(cat(H, B.record(0x584c7777), E)).catch((e: unknown) => e as StreamError);
    expect(err).toMatchObject({ code: 'STREAM_UNKNOWN_RECORD', offset: 16, recordType: 0x584c7777 });
    const err2 = (await readAll(cat(B.streamHeader(3), E)).catch((e: unknown) => e)) as StreamError;
    expect(err2).toMatchObject({ code: 'STREAM_BAD_VERSION', offset: 8, expected: 2, actual: 3 });
    expect(err2.message).toContain('expected 2, got 3');
  });

  test('trailing "leave" keeps the bytes after END for the caller', async () => {
    const r = readStream(pieces(cat(H, E, Buffer.from('domain is yours')), [5, 20, 30]), {
      trailing: 'leave',
    });
    for await (const rec of r) expect(rec.name).toBe('END');
    const rest: Buffer[] = [];
    for await (const b of r.remainder()) rest.push(b);
    expect(Buffer.concat(rest).toString()).toBe('domain is yours');
  });

  test('unknown optional records are reported to onSkip', async () => {
    const seen: number[] = [];
    const r = readStream(pieces(cat(H, B.record(0xd84c0042, Buffer.alloc(3)), E), []), {
      onSkip: (s) => seen.push(s.type),
    });
    for await (const _ of r) void _;
    expect(seen).toEqual([0xd84c0042]);
  });
});

async function readAll(bytes: Buffer): Promise<void> {
  for await (const _ of readStream(pieces(bytes, []))) void _;
}

describe('read-ahead', () => {
  /** Headers, then 2 MiB of records the test never takes, fed in 16 KiB pieces. */
  async function pausedAfterHeaders(readAhead?: number): Promise<boolean> {
    const { PassThrough } = await import('node:stream');
    const input = new PassThrough({ highWaterMark: 16 * 1024 });
    const r = readStream(input, { xlHeader: 'absent', ...(readAhead === undefined ? {} : { readAhead }) });
    const bytes = cat(H, B.phase(3), ...B.ramStream(B.pattern(2 * 1024 * 1024, 4), 256 * 1024), E);
    for (let at = 0; at < bytes.length; at += 16 * 1024) input.write(bytes.subarray(at, at + 16 * 1024));
    await r.headers();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const paused = input.isPaused();
    input.destroy();
    return paused;
  }

  test('a Readable is paused once `readAhead` bytes wait unread; the 8 MiB default reads them all', async () => {
    expect(await pausedAfterHeaders(64 * 1024)).toBe(true);
    expect(await pausedAfterHeaders()).toBe(false);
  });
});
