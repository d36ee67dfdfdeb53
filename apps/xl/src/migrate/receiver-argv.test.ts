import { describe, expect, test } from 'vitest';
import { receiverCommand, splitWords } from './receiver-argv.js';

describe('receiver command line', () => {
  test('default ssh: HOST is one argument, then fixed words only', () => {
    expect(receiverCommand(undefined, 'host b; rm -rf /', ['-p'])).toEqual({
      file: 'ssh',
      args: ['host b; rm -rf /', 'xl', 'migrate-receive', '-p'],
    });
  });

  test('-s SSHCMD is split into words like sh does for plain words', () => {
    expect(receiverCommand('ssh -p 2222 -i \'/k/my key\' -o "A=b c" -o X\\ Y', 'h', [])).toEqual({
      file: 'ssh',
      args: ['-p', '2222', '-i', '/k/my key', '-o', 'A=b c', '-o', 'X Y', 'h', 'xl', 'migrate-receive'],
    });
    expect(splitWords('  a   b\t')).toEqual(['a', 'b']);
    expect(splitWords('a\'\'b ""')).toEqual(['ab', '']);
  });

  test('shell syntax in SSHCMD is refused instead of being run by a shell', () => {
    expect(() => splitWords('ssh $(evil)')).toThrow(/shell syntax '\$' is not supported/);
    expect(() => splitWords('ssh; evil')).toThrow(/shell syntax ';'/);
    expect(() => splitWords("ssh 'open")).toThrow(/unterminated single quote/);
    expect(() => splitWords('ssh "a$b"')).toThrow(/inside double quotes/);
  });

  test("-s '' runs HOST through sh -c, flags as positional parameters", () => {
    expect(receiverCommand('', 'xl migrate-receive', ['-p', '-e'])).toEqual({
      file: 'sh',
      args: ['-c', 'xl migrate-receive "$@"', 'xl-migrate-receiver', '-p', '-e'],
    });
  });

  test('a HOST that looks like an option is refused for ssh', () => {
    expect(() => receiverCommand(undefined, '-oProxyCommand=evil', [])).toThrow(/must not start with '-'/);
    expect(() => receiverCommand('ssh', '', [])).toThrow(/must not be empty/);
  });
});
