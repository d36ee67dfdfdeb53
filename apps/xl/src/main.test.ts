/* eslint-disable no-control-regex -- these tests look for control characters */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CommandIo, CommandSpec } from './command.js';
import { XlError } from './errors.js';
import { EXIT_FAILED, main } from './main.js';

class Text extends Writable {
  text = '';
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += c.toString();
    cb();
  }
}

function failing(err: unknown): CommandSpec {
  return {
    name: 'boom',
    summary: 'fails',
    usage: '',
    options: {},
    positionals: { min: 0 },
    run: () => Promise.reject(err),
  };
}

async function stderrOf(argv: string[], err: unknown): Promise<{ code: number; text: string }> {
  const stderr = new Text();
  const io: CommandIo = { stdin: Readable.from([]), stdout: new Text(), stderr, env: {} };
  const code = await main(argv, io, [failing(err)]);
  return { code, text: stderr.text };
}

describe('main error printer', () => {
  it('prints an error from a file or peer as one line with its control characters escaped', async () => {
    const err = new XlError('XL_RESTORE', "bad domain name 'a\nb\x1b]0;owned\x07\0': expected", {
      cause: new Error('spawn qemu\r\nENOENT\x1b[2J'),
    });
    const quiet = await stderrOf(['boom'], err);
    expect(quiet.code).toBe(EXIT_FAILED);
    expect(quiet.text).toBe("xl: bad domain name 'a\\nb\\x1b]0;owned\\x07\\0': expected\n");
    const verbose = await stderrOf(['-v', 'boom'], err);
    expect(verbose.text.split('\n')).toEqual([
      "xl: bad domain name 'a\\nb\\x1b]0;owned\\x07\\0': expected",
      '  caused by: Error: spawn qemu\\r\\nENOENT\\x1b[2J',
      '',
    ]);
  });

  it('an internal error keeps its stack lines but no control characters', async () => {
    const { text } = await stderrOf(['boom'], new TypeError('x\x1b[2Jy'));
    expect(text).toMatch(/^xl: internal error \(a bug in xl\):\nTypeError: x\\x1b\[2Jy\n/);
    expect(text).not.toMatch(/\x1b/);
  });
});
