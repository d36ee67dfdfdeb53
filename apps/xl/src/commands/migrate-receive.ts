/**
 * `xl migrate-receive [-p] [-e] [-d] [-F]` (internal use only, as in xl): run by `xl migrate`
 * on the destination; reads the stream on stdin, answers on stdout, diagnostics on stderr
 * (which the sender forwards). -e and -F are accepted for xl compatibility (xlkit has no
 * daemon to skip).
 */
import type { Readable, Writable } from 'node:stream';
import type { CommandSpec } from '../command.js';
import { receiveMigration } from '../migrate/receive-migration.js';
import { parseFaults } from '../testing/faults.js';
import { receiverInstruments } from '../testing/instruments.js';
import { UsageError } from '../errors.js';
import { PLAIN_DIR } from '../mirror/target-root.js';
import { openSession, println } from './common.js';

export const migrateReceiveCommand: CommandSpec = {
  name: 'migrate-receive',
  summary: 'Receive a domain migrated by xl migrate (internal use only)',
  usage: '[options]',
  internal: true,
  options: {
    paused: { type: 'boolean', short: 'p' },
    'no-monitor': { type: 'boolean', short: 'e' },
    debug: { type: 'boolean', short: 'd' },
    foreground: { type: 'boolean', short: 'F' },
    'target-dir': { type: 'string' },
  },
  optionHelp: {
    paused: 'Leave the domain paused after the switch-over',
    'no-monitor': 'Accepted for xl compatibility (no daemon here)',
    debug: 'Log each step on stderr',
    foreground: 'Accepted for xl compatibility (never daemonizes)',
    'target-dir':
      'The only directory -q may create disk images in (default: disks in the state dir); pin it in an ssh forced command',
  },
  optionValues: { 'target-dir': 'DIR' },
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const targetDir = args.values['target-dir'];
    if (typeof targetDir === 'string' && !PLAIN_DIR.test(targetDir))
      throw new UsageError(`--target-dir must be an absolute path of plain characters, got '${targetDir}'`);
    const { store } = await openSession(args, io);
    const controller = new AbortController();
    const stdin = io.stdin as unknown as Readable;
    // A vanished sender (SIGHUP from ssh, SIGTERM, Ctrl-C) aborts like EOF: clean up, exit 1.
    const onSignal = () => {
      controller.abort();
      stdin.destroy();
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of signals) process.on(s, onSignal);
    const debug = args.values.debug === true;
    const log = (line: string) => println(io.stderr, line);
    // Test-only decorations (src/testing), parsed once here from the environment.
    const instruments = receiverInstruments(parseFaults(io.env));
    try {
      const r = await receiveMigration(store, {
        input: stdin,
        output: io.stdout as unknown as Writable,
        paused: args.values.paused === true,
        log: debug ? log : () => undefined,
        signal: controller.signal,
        env: io.env,
        ...(typeof targetDir === 'string' ? { targetRoot: targetDir } : {}),
        ...(instruments === undefined ? {} : { instruments }),
      });
      log(
        `domain '${r.record.name}' (id ${r.record.id}) ${r.running ? 'is running' : 'is paused'} on this host`,
      );
      return 0;
    } finally {
      for (const s of signals) process.off(s, onSignal);
      stdin.destroy();
    }
  },
};
