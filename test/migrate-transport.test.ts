// End to end: `-s SSHCMD` is shell text run as xl runs it (`exec SSHCMD "$@"` through sh -c),
// so `~` and variables expand in it, while HOST and the receiver's words reach the transport
// as literal arguments, whatever they hold. The final line names where the domain runs.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sameHostReceiver, startMigrate, waitForBeatAbove, xlHost, XL } from './xl-rig.js';
import { cleanupAfterEach } from './helpers/index.js';
import { bootSource } from './migrate-checks.js';

cleanupAfterEach();

describe('xl migrate -s SSHCMD (real QEMU)', { timeout: 300_000 }, () => {
  it('runs -s through the shell with HOST as a literal argument; the final line names this host', async () => {
    const a = xlHost('mt-a-');
    const b = xlHost('mt-b-');
    const { beat } = await bootSource(a, 'mt1');
    // A stand-in for ssh under $HOME: records what it was given, then runs B's receiver.
    const home = path.join(a.dir, 'home');
    await mkdir(path.join(home, 'bin'), { recursive: true });
    const fakeSsh = path.join(home, 'bin', 'fake-ssh');
    await writeFile(
      fakeSsh,
      [
        '#!/bin/sh',
        'state=$1; shift',
        `printf '%s\\0' "$@" > "$XLT_ARGV"`,
        'shift',
        '[ "$1 $2" = "xl migrate-receive" ] || exit 97',
        'shift 2',
        `exec node '${XL}' --state-dir "$state" migrate-receive "$@"`,
        '',
      ].join('\n'),
    );
    await chmod(fakeSsh, 0o755);
    const pwned = path.join(a.dir, 'pwned');
    const host = `h$(touch ${pwned});'"x\`touch ${pwned}\` ; touch ${pwned}`;
    const r = await startMigrate(
      a,
      ['-s', 'env XLT_ARGV="$HOME/argv" ~/bin/fake-ssh "$XLT_B"', 'mt1', host],
      { env: { HOME: home, XLT_B: b.stateDir } },
    );
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(readFileSync(path.join(home, 'argv'), 'utf8').split('\0').slice(0, -1)).toEqual([
      host,
      'xl',
      'migrate-receive',
    ]);
    expect(existsSync(pwned)).toBe(false);
    const me = os.hostname();
    expect(String(r.stdout)).toContain(
      `Migration successful: domain mt1 now runs on this host (${me}, reached as ${host})`,
    );
    await waitForBeatAbove(b, 'mt1', beat);

    // Back with -s '': HOST is the receiver's command, and the final line never quotes it.
    const back = await startMigrate(b, ['-s', '', 'mt1', sameHostReceiver(a)]);
    expect(back.exitCode, String(back.stderr)).toBe(0);
    expect(String(back.stdout).split('\n')[0]).toBe(
      `Migration successful: domain mt1 now runs on this host (${me})`,
    );
  });

  it('a -s that is not valid shell is a usage error (exit 2) before anything is touched', async () => {
    const a = xlHost('mt-c-');
    const r = await startMigrate(a, ['-s', "ssh -i 'key", 'nosuchdomain', 'h']);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/^xl: -s 'ssh -i 'key' is not a valid shell command: /);
  });
});
