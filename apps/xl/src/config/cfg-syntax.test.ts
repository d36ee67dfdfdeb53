import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseCfg, parseCfgValue } from './cfg-syntax.js';

function errorOf(text: string): ConfigError {
  try {
    parseCfg(text, 'dom.cfg');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseCfg', () => {
  it('reads strings, numbers, lists, comments and both quote styles', () => {
    const text = [
      '# a comment',
      'name = "web1"   # trailing comment',
      "kernel = '/boot/vm\\linuz'",
      'memory = 512; vcpus = 0x2',
      'disk = [ "/img/a.raw,raw,xvda,rw",',
      "         'format=qcow2, vdev=xvdb, target=/img/b,c.qcow2', ]",
      'extra = "console=ttyS0 \\"quoted\\"\\n"',
      'empty = []',
    ].join('\n');
    const entries = parseCfg(text, 'dom.cfg');
    expect(entries.map((e) => e.key)).toEqual([
      'name',
      'kernel',
      'memory',
      'vcpus',
      'disk',
      'extra',
      'empty',
    ]);
    expect(entries[0]).toMatchObject({
      value: { kind: 'string', value: 'web1', pos: { line: 2, column: 8 } },
    });
    expect(entries[1]?.value).toMatchObject({ kind: 'string', value: '/boot/vm\\linuz' });
    expect(entries[2]?.value).toMatchObject({ kind: 'number', value: 512 });
    expect(entries[3]?.value).toMatchObject({ kind: 'number', value: 2, pos: { line: 4, column: 23 } });
    const disk = entries[4]?.value;
    expect(disk?.kind).toBe('list');
    if (disk?.kind !== 'list') return;
    expect(disk.items.map((i) => (i.kind === 'string' ? i.value : null))).toEqual([
      '/img/a.raw,raw,xvda,rw',
      'format=qcow2, vdev=xvdb, target=/img/b,c.qcow2',
    ]);
    expect(disk.items[1]?.pos).toEqual({ file: 'dom.cfg', line: 6, column: 10 });
    expect(entries[5]?.value).toMatchObject({ value: 'console=ttyS0 "quoted"\n' });
    expect(entries[6]?.value).toMatchObject({ kind: 'list', items: [] });
  });

  it('marks += entries as appends', () => {
    const [a, b] = parseCfg('disk = ["x"]\ndisk += ["y"]\n', 'f');
    expect(a?.append).toBe(false);
    expect(b?.append).toBe(true);
  });

  it('accepts CRLF line ends and an empty file', () => {
    expect(parseCfg('', 'f')).toEqual([]);
    expect(parseCfg('name = "a"\r\nmemory = 64\r\n', 'f').map((e) => e.key)).toEqual(['name', 'memory']);
  });

  const cases: [string, string, number, number, RegExp][] = [
    ['missing =', 'name "web"', 1, 6, /expected '=' after 'name', got '"web"'/],
    ['missing value', 'memory =\n', 1, 9, /expected a value .* got end of line/],
    ['value at end of file', 'memory =', 1, 9, /got end of file/],
    [
      'unterminated double-quoted string',
      'name = "web\nmemory = 1',
      1,
      8,
      /unterminated string: expected closing "/,
    ],
    ['unterminated single-quoted string', "x = 1\nname = 'web", 2, 8, /expected closing '/],
    ['bad escape', 'name = "a\\qb"', 1, 10, /unknown escape '\\q'/],
    ['bad character', 'memory = 512\n  vcpus = @', 2, 11, /unexpected character '@'/],
    ['bad number', 'memory = 512M', 1, 10, /expected a number, got '512M'/],
    ['huge number', 'memory = 99999999999999999999', 1, 10, /too large/],
    ['statement not starting with a key', '= 5', 1, 1, /expected a setting name, got '='/],
    ['two values', 'name = "a" "b"', 1, 12, /expected end of line or ';' after the value of 'name'/],
    ['unclosed list', 'disk = ["a"', 1, 12, /expected ',' or '\]' in list, got end of file/],
    ['list without comma', 'disk = ["a"\n "b"]', 2, 2, /expected ',' or '\]' in list, got '"b"'/],
    ['deeply nested list', 'x = [[[1]]]', 1, 7, /nested deeper than 2/],
  ];
  for (const [what, text, line, column, message] of cases) {
    it(`reports ${what} with line ${line} and column ${column}`, () => {
      const err = errorOf(text);
      expect({ file: err.file, line: err.line, column: err.column }).toEqual({
        file: 'dom.cfg',
        line,
        column,
      });
      expect(err.code).toBe('XL_CONFIG');
      expect(err.message).toMatch(message);
      expect(err.message.startsWith(`dom.cfg:${line}:${column}: `)).toBe(true);
    });
  }

  it('rejects input larger than the limit', () => {
    expect(() => parseCfg(`x = "${'a'.repeat(1 << 20)}"`, 'big.cfg')).toThrow(/larger than/);
  });
});

describe('parseCfgValue', () => {
  it('parses a lone value and reports columns offset as given', () => {
    expect(parseCfgValue('[1, 2]', 'arg', 5)).toMatchObject({ kind: 'list', pos: { column: 5 } });
    expect(() => parseCfgValue('"a" x', 'arg', 5)).toThrow(/arg:1:9: unexpected 'x'/);
  });
});
