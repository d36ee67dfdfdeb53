import { createConnection } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { CommandIo, CommandSpec } from '../command.js';
import { XlError } from '../errors.js';
import { isQemuAlive } from '../domain/liveness.js';
import { openDomain, println } from './common.js';

/** Ctrl-] detaches, as in xl (xenconsole). */
const ESCAPE = 0x1d;

type RawCapable = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

/** Interactive console: the guest's serial port socket, stdin in raw mode, until ^] or QEMU exits. */
function attach(socketPath: string, io: CommandIo): Promise<void> {
  const stdin = io.stdin as RawCapable;
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    const onData = (chunk: Buffer): void => {
      const at = chunk.indexOf(ESCAPE);
      if (at >= 0) {
        if (at > 0) sock.write(chunk.subarray(0, at));
        finish();
      } else sock.write(chunk);
    };
    const finish = (err?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      sock.destroy();
      if (err)
        reject(new XlError('XL_QEMU_FAILED', `console connection failed: ${err.message}`, { cause: err }));
      else resolve();
    };
    sock.on('connect', () => {
      stdin.setRawMode?.(true);
      stdin.on('data', onData);
      stdin.resume();
    });
    sock.on('data', (d) => io.stdout.write(d));
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish());
  });
}

export const consoleCommand: CommandSpec = {
  name: 'console',
  summary: "Attach to a domain's console",
  usage: '[options] <Domain>',
  options: { type: { type: 'string', short: 't' } },
  optionHelp: { type: "Console type: 'serial' (the only one)" },
  optionValues: { type: 'TYPE' },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const type = args.values.type;
    if (type !== undefined && type !== 'serial')
      throw new XlError('XL_USAGE', `unsupported console type '${String(type)}': only 'serial'`);
    const { store, domain } = await openDomain(args, io);
    if (domain.config.serial === 'none')
      throw new XlError(
        'XL_DOMAIN_NOT_FOUND',
        `domain '${domain.name}' has no serial console (serial='none')`,
        { domain: domain.name },
      );
    const paths = store.paths(domain.id);
    if (io.stdout.isTTY === true && (io.stdin as RawCapable).isTTY === true && isQemuAlive(domain)) {
      println(io.stderr, `Connected to domain ${domain.name} (id ${domain.id}). Escape character is '^]'.`);
      await attach(paths.console, io);
      println(io.stderr);
      return 0;
    }
    // Not a terminal: print what the console said so far and exit.
    io.stdout.write(await readFile(paths.consoleLog).catch(() => Buffer.alloc(0)));
    return 0;
  },
};
