import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { checkedReceiverCommand, receiverCommand } from './receiver-argv.js';

/** Runs a receiver command with `echo` as the transport's end: what the far end would get. */
async function argvSeen(sshCommand: string, host: string, flags: string[] = []): Promise<string[]> {
  const cmd = receiverCommand(sshCommand, host, flags);
  const r = await execa(cmd.file, cmd.args, {
    env: { HOME: '/home/u', PORT: '2222' },
    stripFinalNewline: false,
  });
  return r.stdout.split('\0').slice(0, -1);
}

/** Prints each argument it gets, NUL-terminated. */
const PRINT_ARGV = `printf '%s\\0'`;

describe('receiver command line', () => {
  test('default ssh: sh -c with HOST and the receiver words as positional parameters', () => {
    expect(receiverCommand(undefined, 'host b; rm -rf /', ['-p'])).toEqual({
      file: 'sh',
      args: ['-c', 'exec ssh "$@"', 'sh', 'host b; rm -rf /', 'xl', 'migrate-receive', '-p'],
    });
  });

  test('-s SSHCMD is shell text, as in xl: ~ and variables expand', async () => {
    expect(await argvSeen(`${PRINT_ARGV} -i ~/.ssh/key -p "$PORT"`, 'h', ['-e'])).toEqual([
      '-i',
      '/home/u/.ssh/key',
      '-p',
      '2222',
      'h',
      'xl',
      'migrate-receive',
      '-e',
    ]);
  });

  test('a hostile HOST is passed as one literal word, never parsed by the shell', async () => {
    for (const host of ['$(touch /tmp/xl-pwned)', 'a;b', `it's "q"`, '`id`', 'x\ny', '*', '~']) {
      expect(await argvSeen(PRINT_ARGV, host)).toEqual([host, 'xl', 'migrate-receive']);
    }
  });

  test("-s '' runs HOST through sh -c, flags as positional parameters", () => {
    expect(receiverCommand('', 'xl migrate-receive', ['-p', '-e'])).toEqual({
      file: 'sh',
      args: ['-c', 'xl migrate-receive "$@"', 'sh', '-p', '-e'],
    });
  });

  test('usage errors: a blank transport, a HOST like an option, bad shell syntax', () => {
    expect(() => receiverCommand(' \t', 'h', [])).toThrow(/transport command is blank/);
    expect(() => receiverCommand(undefined, '-oProxyCommand=evil', [])).toThrow(/must not start with '-'/);
    expect(() => receiverCommand('ssh', '', [])).toThrow(/must not be empty/);
    expect(() => checkedReceiverCommand("ssh -i 'key", 'h', [])).toThrow(
      /^-s 'ssh -i 'key' is not a valid shell command: .*(quote|EOF|end of file)/i,
    );
    expect(() => checkedReceiverCommand('ssh )', 'h', [])).toThrow(/not a valid shell command/);
    expect(() => checkedReceiverCommand('', 'xl migrate-receive (', [])).toThrow(
      /^HOST .* not a valid shell command/,
    );
    expect(checkedReceiverCommand('ssh -i ~/k -o "A=$B"', 'h', []).file).toBe('sh');
  });
});
