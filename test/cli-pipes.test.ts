// End to end, no guest: the real xl CLI behind real pipes whose reader leaves early
// (`xl stream-dump FILE | head -1`). Its output ends quietly: no EPIPE stack trace, exit 0.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamWriter } from '@xlkit/stream';
import { cleanupAll, tempDir } from './helpers/index.js';
import { XL } from './xl-rig.js';

/** Optional records stream-dump skips with one line each: 3000 lines, far more than a pipe holds. */
const SKIPPED = 3000;

async function longStream(file: string): Promise<void> {
  const pt = new PassThrough();
  const parts: Buffer[] = [];
  pt.on('data', (b: Buffer) => parts.push(b));
  const w = new StreamWriter(pt);
  await w.writeXlHeader({ name: 'vm1' });
  await w.writeStreamHeader();
  for (let i = 0; i < SKIPPED; i++) await w.writeRawRecord(0x80007777, [Buffer.alloc(8)]);
  await w.writePhase(1);
  await w.end();
  await writeFile(file, Buffer.concat(parts));
}

let file = '';
beforeAll(async () => {
  file = path.join(tempDir('xl-pipes-'), 'long.xls');
  await longStream(file);
  // The whole dump, read to the end: the stream is valid and has a line per skipped record.
  const full = await execa('node', [XL, 'stream-dump', file], { reject: false });
  expect(full.exitCode, full.stderr).toBe(0);
  expect(full.stdout.split('\n').length).toBeGreaterThan(SKIPPED);
});
afterAll(cleanupAll);

describe('xl output into a pipe whose reader leaves', () => {
  it('xl stream-dump FILE | head -1: the first line, then quiet, exit 0', async () => {
    // bash for PIPESTATUS; the paths reach it as positional parameters, not as shell text.
    // eslint-disable-next-line no-template-curly-in-string -- bash's ${...}, in a plain string
    const script = 'node "$1" stream-dump "$2" | head -1; echo "xl exit ${PIPESTATUS[0]}" >&2';
    const r = await execa('bash', ['-c', script, 'bash', XL, file], { reject: false });
    expect(r.stdout).toMatch(/^xl header: {5}mandatory flags 0x3, .* config \{"name":"vm1"\}$/);
    expect(r.stderr).toBe('xl exit 0');
  });

  it('a reader gone before xl writes anything: no trace, exit 0', async () => {
    const child = spawn('node', [XL, 'stream-dump', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // closes this end of the pipe: every write of xl's gets EPIPE
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
