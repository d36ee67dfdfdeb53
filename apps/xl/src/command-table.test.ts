import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { commandTable } from './command-table.js';
import { formatCommandHelp, formatCommandList, lookupCommand } from './help.js';
import { main } from './main.js';
import type { CommandIo, CommandSpec } from './command.js';
import { XlError } from './errors.js';

function capture(): { io: CommandIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr, env: {} }, out: () => o, err: () => e };
}

describe('command table', () => {
  it('has the lifecycle commands, unique names, valid positional bounds and help for every option', () => {
    const names = commandTable.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of [
      'create',
      'list',
      'destroy',
      'shutdown',
      'pause',
      'unpause',
      'rename',
      'console',
      'info',
      'migrate',
      'migrate-status',
      'migrate-abort',
      'migrate-postcopy',
      'help',
    ])
      expect(names).toContain(n);
    for (const c of commandTable) {
      expect(c.summary).not.toBe('');
      expect(c.positionals.min).toBeGreaterThanOrEqual(0);
      if (c.positionals.max !== undefined)
        expect(c.positionals.max).toBeGreaterThanOrEqual(c.positionals.min);
      for (const [opt, o] of Object.entries(c.options)) {
        expect(c.optionHelp?.[opt], `${c.name} --${opt}`).toBeTruthy();
        // A value name says what to give (`--bandwidth MIB/S`), never the generic VALUE.
        if (o.type === 'string')
          expect(c.optionValues?.[opt], `${c.name} --${opt} value`).toMatch(/^[A-Za-z/|]+$/);
      }
    }
  });

  it('looks up exact names first, then unique prefixes', () => {
    const t = [
      { name: 'pause' },
      { name: 'unpause' },
      { name: 'migrate' },
      { name: 'migrate-receive' },
    ] as CommandSpec[];
    expect(lookupCommand(t, 'migrate').spec?.name).toBe('migrate');
    expect(lookupCommand(t, 'pa').spec?.name).toBe('pause');
    expect(lookupCommand(t, 'migrate-r').spec?.name).toBe('migrate-receive');
    expect(lookupCommand(t, 'mig')).toEqual({ candidates: ['migrate', 'migrate-receive'] });
    expect(lookupCommand(t, 'x')).toEqual({ candidates: [] });
    expect(lookupCommand(commandTable, 'c').candidates).toEqual(['create', 'console']);
  });

  it('lists visible commands in help and hides internal ones', () => {
    const internal: CommandSpec = {
      name: 'secret',
      summary: 'Hidden',
      usage: '',
      options: {},
      positionals: { min: 0 },
      internal: true,
      run: async () => 0,
    };
    const text = formatCommandList([...commandTable, internal]);
    for (const c of commandTable.filter((c) => c.internal !== true)) expect(text).toContain(` ${c.name} `);
    expect(text).not.toContain('migrate-receive');
    expect(text).not.toContain('secret');
  });

  it('generates per-command help from the row', () => {
    const create = commandTable.find((c) => c.name === 'create')!;
    const text = formatCommandHelp(create);
    expect(text).toMatch(/^Usage: xl create \[options\] <ConfigFile>/);
    expect(text).toContain('-p, --paused');
    expect(text).toContain('Leave the domain paused');
    const migrate = formatCommandHelp(commandTable.find((c) => c.name === 'migrate')!);
    expect(migrate).toContain('-s, --ssh-command SSHCMD');
    expect(migrate).toContain('--bandwidth MIB/S');
    expect(migrate).not.toContain('VALUE');
    // Descriptions line up after the longest flag.
    const lines = migrate.split('\n');
    const column = (flag: string) => {
      const line = lines.find((l) => l.startsWith(`${flag} `))!;
      return line.length - line.slice(flag.length).trimStart().length;
    };
    expect(column('--postcopy-after-time SECONDS')).toBe(column('-p, --paused'));
    expect(column('-h, --help')).toBe(column('-p, --paused'));
  });
});

describe('main', () => {
  it('prints help for `xl help`, `xl --help` and `xl COMMAND --help`, exit 0', async () => {
    for (const argv of [['help'], ['--help'], ['list', '--help'], ['--help', 'list'], ['li', '-h']]) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(0);
      expect(c.out()).toMatch(/Usage/);
    }
  });

  it('exits 2 with a message for usage mistakes', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage xl/],
      [['frobnicate'], /xl: unknown command 'frobnicate'/],
      [['c', 'x'], /ambiguous command 'c': could be create, console/],
      [['destroy'], /'destroy' needs an argument[\s\S]*Usage: xl destroy <Domain>/],
      [['rename', 'a', 'b', 'c'], /takes at most 2/],
      [['list', '--bogus'], /Unknown option '--bogus'/],
      [['--state-dir'], /--state-dir needs a directory/],
      [['--what', 'list'], /unknown global option '--what'/],
      [['help', 'nope'], /unknown command 'nope'/],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err()).toMatch(message);
    }
  });

  const failing = (error: unknown): CommandSpec[] => [
    {
      name: 'boom',
      summary: 'Fail',
      usage: '',
      options: {},
      positionals: { min: 0 },
      run: async () => {
        throw error;
      },
    },
  ];

  it('exits 1 with one line for our errors and the cause chain with -v', async () => {
    const err = new XlError('XL_QEMU_FAILED', 'QEMU failed', {
      cause: Object.assign(new Error('socket gone'), { code: 'QMP_CONNECT' }),
    });
    const quiet = capture();
    expect(await main(['boom'], quiet.io, failing(err))).toBe(1);
    expect(quiet.err()).toBe('xl: QEMU failed\n');
    const loud = capture();
    expect(await main(['-v', 'boom'], loud.io, failing(err))).toBe(1);
    expect(loud.err()).toBe('xl: QEMU failed\n  caused by: Error [QMP_CONNECT]: socket gone\n');
  });

  it('recognises errors of the other libraries by their code', async () => {
    for (const code of ['STREAM_TRUNCATED', 'QMP_TIMEOUT']) {
      const c = capture();
      expect(await main(['boom'], c.io, failing(Object.assign(new Error('lib failure'), { code })))).toBe(1);
      expect(c.err()).toBe('xl: lib failure\n');
    }
  });

  it('treats any other error as a bug: prints its stack, exit 1', async () => {
    const c = capture();
    expect(await main(['boom'], c.io, failing(new TypeError('x is undefined')))).toBe(1);
    expect(c.err()).toMatch(/internal error[\s\S]*TypeError: x is undefined\n\s+at /);
    const errno = capture();
    expect(
      await main(['boom'], errno.io, failing(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))),
    ).toBe(1);
    expect(errno.err()).toMatch(/internal error/);
    expect(c.err()).toMatch(/run it again with -v to see the stack at its source lines\n$/);
    const verbose = capture();
    expect(await main(['-v', 'boom'], verbose.io, failing(new TypeError('x is undefined')))).toBe(1);
    expect(verbose.err()).toMatch(/TypeError: x is undefined/);
    expect(verbose.err()).not.toMatch(/run it again with -v/);
  });

  it('exits 1 naming file, line and column for a bad config', async () => {
    const c = capture();
    expect(await main(['create', '-n', '/nonexistent/dom.cfg'], c.io)).toBe(1);
    expect(c.err()).toMatch(
      /xl: cannot read config file \/nonexistent\/dom.cfg: no such file or directory\n/,
    );
    const dir = await mkdtemp(path.join(os.tmpdir(), 'xl-main-'));
    try {
      const file = path.join(dir, 'bad.cfg');
      await writeFile(file, 'name = "a"\nmemory = 64x\n');
      const bad = capture();
      expect(await main(['create', file], bad.io)).toBe(1);
      expect(bad.err()).toContain(`xl: ${file}:2:10: expected a number, got '64x'`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
