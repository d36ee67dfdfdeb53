// `xl migrate`'s usage errors exit 2 before anything is read or looked up: the domain named
// does not exist here, so any lookup would fail with 1 ("does not exist") first.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../command.js';
import { main } from '../main.js';

function capture(): { io: CommandIo; err: () => string } {
  const stderr = new PassThrough();
  let e = '';
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { io: { stdin: new PassThrough(), stdout: new PassThrough(), stderr, env: {} }, err: () => e };
}

let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'xl-migrate-usage-'));
});
afterAll(() => rm(stateDir, { recursive: true, force: true }));

const migrate = async (...args: string[]) => {
  const c = capture();
  const code = await main(['--state-dir', stateDir, 'migrate', ...args], c.io);
  return { code, err: c.err() };
};

describe('xl migrate usage errors', () => {
  it('a missing domain is a failure (1): the baseline the cases below must not reach', async () => {
    expect(await migrate('nodom', 'host')).toEqual({ code: 1, err: "xl: domain 'nodom' does not exist\n" });
  });

  const cases: [string, string[], RegExp][] = [
    [
      'a HOST that ssh would take as an option',
      ['nodom', '--', '-oProxyCommand=sh'],
      /HOST .* must not start with '-'/,
    ],
    [
      'the same with -C CONFIG (not read first)',
      ['-C', '/nonexistent.cfg', 'nodom', '--', '-x'],
      /must not start/,
    ],
    [
      '-s that is not shell syntax',
      ['-s', 'ssh (', 'nodom', 'host'],
      /-s 'ssh \(' is not a valid shell command/,
    ],
    ['-s that is blank', ['-s', '  ', 'nodom', 'host'], /-s: the transport command is blank/],
    [
      "-s '' with a HOST that is not shell syntax",
      ['-s', '', 'nodom', 'a ('],
      /HOST 'a \(' .* not a valid shell/,
    ],
    ['-s without its value', ['nodom', 'host', '-s'], /argument missing/],
    ['--target-dir without -q', ['--target-dir', '/srv', 'nodom', 'host'], /--target-dir needs -q/],
    [
      '--target-dir the remote shell would parse',
      ['-q', '--target-dir', '/a b', 'nodom', 'h'],
      /--target-dir must be an absolute path on the destination made of/,
    ],
    [
      '--resume with -C',
      ['--resume', '-C', '/nonexistent.cfg', 'nodom', 'host'],
      /--resume takes no --config/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: exit 2`, async () => {
      const r = await migrate(...args);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/does not exist|cannot read/);
      expect(r.code).toBe(2);
    });
  }
});
