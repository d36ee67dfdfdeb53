/* eslint-disable no-control-regex -- these tests look for control characters */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { StreamError, StreamWriter } from '@xlkit/stream';
import type { CommandIo } from '../command.js';
import { UsageError } from '../errors.js';
import { streamDumpCommand } from './stream-dump.js';

class Text extends Writable {
  text = '';
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += c.toString();
    cb();
  }
}

function fakeIo(stdin: Buffer = Buffer.alloc(0)): { io: CommandIo; out: Text; err: Text } {
  const out = new Text();
  const err = new Text();
  return { io: { stdin: Readable.from([stdin]), stdout: out, stderr: err, env: {} }, out, err };
}

async function sampleStream(name = 'vm1', machine = 'pc'): Promise<Buffer> {
  const pt = new PassThrough();
  const parts: Buffer[] = [];
  pt.on('data', (b: Buffer) => parts.push(b));
  const w = new StreamWriter(pt);
  await w.writeXlHeader({ name });
  await w.writeStreamHeader();
  await w.writePhase(1);
  await w.writeDomainInfo({
    qemuVersion: '7.2.0',
    machine,
    accel: 'tcg',
    memoryMiB: 64,
    vcpus: 1,
    disks: [{ id: 'xvda', format: 'raw', virtualSize: 1024, allocation: 0 }],
  });
  await w.writePhase(3);
  await w.writeRamFrom([Buffer.alloc(10_000, 7)], { chunkSize: 4096 });
  await w.end();
  return Buffer.concat(parts);
}

const run = (positionals: string[], io: CommandIo, json = false) =>
  streamDumpCommand.run({ positionals, values: { json }, globals: { verbose: false } }, io);

let dir = '';
let good: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xl-stream-dump-'));
  good = await sampleStream();
  await writeFile(join(dir, 'good.xls'), good);
  const bad = Buffer.from(good);
  bad[bad.length - 20] = (bad[bad.length - 20] ?? 0) ^ 1; // a digest byte of RAM_END
  await writeFile(join(dir, 'bad.xls'), bad);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('xl stream-dump', () => {
  test('lists headers and records, squashes RAM chunks, says valid', async () => {
    const { io, out } = fakeIo();
    expect(await run([join(dir, 'good.xls')], io)).toBe(0);
    expect(out.text).toContain('xl header:     mandatory flags 0x3');
    expect(out.text).toContain('config {"name":"vm1"}');
    expect(out.text).toContain('stream header: LibxlFmt version 2, options 0x0');
    expect(out.text).toMatch(/DOMAIN_INFO\s+\d+\s+qemu 7\.2\.0 pc tcg, 64 MiB, 1 vcpus, disks xvda:raw:1024/);
    expect(out.text).toMatch(/RAM_CHUNK x3\s+10072\s+RAM stream bytes 0\.\.9999 \(10000 bytes\), crc32 ok/);
    expect(out.text.trimEnd().split('\n').at(-1)).toBe(`verdict: valid (8 records, ${good.length} bytes)`);
  });

  test('--json reads stdin with -', async () => {
    const { io, out } = fakeIo(good);
    expect(await run(['-'], io, true)).toBe(0);
    const doc = JSON.parse(out.text) as {
      verdict: { valid: boolean };
      records: Array<{ type: string; count?: number }>;
      xlHeader: { config: unknown };
    };
    expect(doc.verdict.valid).toBe(true);
    expect(doc.xlHeader.config).toEqual({ name: 'vm1' });
    expect(doc.records.map((r) => r.type)).toEqual([
      'PHASE',
      'DOMAIN_INFO',
      'PHASE',
      'RAM_CHUNK',
      'RAM_END',
      'END',
    ]);
    expect(doc.records[3]?.count).toBe(3);
  });

  test('an invalid stream prints the verdict and throws the StreamError (exit 1 in main)', async () => {
    const { io, out } = fakeIo();
    const err = await run([join(dir, 'bad.xls')], io).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe('STREAM_DIGEST');
    expect(out.text).toMatch(
      /verdict: INVALID after 6 records: STREAM_DIGEST at byte \d+: RAM stream digest mismatch/,
    );
  });

  test('escape sequences, NULs and newlines from the file reach the terminal as visible escapes', async () => {
    const hostile = await sampleStream('vm\x1b]0;owned\x07\n\0x', 'pc\x1b[2J\u202e\x9b31m');
    const { io, out } = fakeIo(hostile);
    expect(await run(['-'], io)).toBe(0);
    expect(out.text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    expect(out.text).toContain('config {"name":"vm\\u001b]0;owned\\u0007\\n\\u0000x"}');
    expect(out.text).toMatch(/qemu 7\.2\.0 pc\\x1b\[2J\\u202e\\x9b31m tcg/);
    expect(out.text.trimEnd().split('\n')).toHaveLength(10);
    const json = fakeIo(hostile);
    expect(await run(['-'], json.io, true)).toBe(0);
    expect(json.out.text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    const doc = JSON.parse(json.out.text) as { records: Array<{ summary: string }> };
    expect(doc.records[1]?.summary).toContain('pc\x1b[2J\u202e\x9b31m');
  });

  test('a missing file is a StreamError, an empty name a usage error', async () => {
    const err = await run([join(dir, 'nope.xls')], fakeIo().io).catch((e: unknown) => e);
    expect((err as StreamError).code).toBe('STREAM_IO');
    await expect(run([''], fakeIo().io)).rejects.toBeInstanceOf(UsageError);
  });
});
