import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../main.js';

class Text extends Writable {
  text = '';
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += c.toString();
    cb();
  }
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xlkit-info-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('xl info', () => {
  test('reports the host, its QEMU, whether xl keeps the memory it frees and which crc32 it uses', async () => {
    const out = new Text();
    const err = new Text();
    const code = await main(['--state-dir', dir, 'info'], {
      stdin: Readable.from([]),
      stdout: out,
      stderr: err,
      env: {},
    });
    expect(err.text).toBe('');
    expect(code).toBe(0);
    const rows = new Map(
      out.text
        .trim()
        .split('\n')
        .map((l) => l.split(/\s*: /, 2) as [string, string]),
    );
    expect(rows.get('qemu_version')).toMatch(/^7\.2\./);
    expect(rows.get('xl_state_dir')).toBe(dir);
    expect(rows.get('nr_domains')).toBe('0');
    // The project's setup builds the addon, so here it is in effect.
    expect(rows.get('xl_malloc_tuning')).toBe('tuned');
    expect(rows.get('xl_crc32')).toBe('isa-l');
  });
});
