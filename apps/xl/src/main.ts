/** xl entry point: global flags, command lookup, and the only place that maps errors to exit codes. */
import { endQuietlyOnClosedPipe } from './progress/closed-output.js';
import { oneLine, safeLines } from './progress/terminal-text.js';
import { parseArgs } from 'node:util';
import type { CommandIo, CommandSpec, GlobalOptions, OptionValues } from './command.js';
import { commandTable } from './command-table.js';
import { UsageError } from './errors.js';
import { formatCommandHelp, formatCommandList, formatUsage, lookupCommand } from './help.js';

/** Called by the entry shim before `main`: see @xlkit/os-tune. */
export { keepFreedMemory } from '@xlkit/os-tune';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

interface CodedError extends Error {
  code: string;
}

/** Ours: XlError (XL_*), and errors of @xlkit/stream (STREAM_*) and @xlkit/qmp (QMP_*). */
export function isKnownError(err: unknown): err is CodedError {
  if (!(err instanceof Error)) return false;
  const code = (err as Partial<CodedError>).code;
  return typeof code === 'string' && /^(XL|STREAM|QMP)_[A-Z_]+$/.test(code);
}

function causeChain(err: Error): string[] {
  const out: string[] = [];
  let c: unknown = err.cause;
  for (let depth = 0; c !== undefined && depth < 10; depth++) {
    if (c instanceof Error) {
      const code = (c as Partial<CodedError>).code;
      out.push(`  caused by: ${c.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${c.message}`);
      c = c.cause;
    } else {
      out.push(`  caused by: ${typeof c === 'object' ? JSON.stringify(c)?.slice(0, 300) : String(c)}`);
      break;
    }
  }
  return out;
}

interface ParsedGlobals {
  globals: GlobalOptions;
  rest: string[];
  help: boolean;
}

/** Options before the command name: -v (repeatable), --state-dir DIR, --log-dir DIR, -h/--help. */
function parseGlobals(argv: string[]): ParsedGlobals {
  const globals: GlobalOptions = { verbose: false };
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--') {
      i++;
      break;
    }
    if (/^-v+$/.test(a) || a === '--verbose') globals.verbose = true;
    else if (a === '-h' || a === '--help') help = true;
    else if (a === '--state-dir') {
      const dir = argv[++i];
      if (dir === undefined) throw new UsageError('option --state-dir needs a directory');
      globals.stateDir = dir;
    } else if (a.startsWith('--state-dir=')) globals.stateDir = a.slice('--state-dir='.length);
    else if (a === '--log-dir') {
      const dir = argv[++i];
      if (dir === undefined) throw new UsageError('option --log-dir needs a directory');
      globals.logDir = dir;
    } else if (a.startsWith('--log-dir=')) globals.logDir = a.slice('--log-dir='.length);
    else throw new UsageError(`unknown global option '${a}'`);
  }
  return { globals, rest: argv.slice(i), help };
}

function wantsHelp(args: string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '-h' || a === '--help') return true;
  }
  return false;
}

async function runCommand(
  spec: CommandSpec,
  args: string[],
  globals: GlobalOptions,
  io: CommandIo,
): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(`${formatCommandHelp(spec)}\n`);
    return EXIT_OK;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: spec.options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? String(err));
  }
  const n = parsed.positionals.length;
  if (n < spec.positionals.min)
    throw new UsageError(
      `'${spec.name}' needs ${spec.positionals.min === 1 ? 'an argument' : `${spec.positionals.min} arguments`}`,
    );
  if (spec.positionals.max !== undefined && n > spec.positionals.max)
    throw new UsageError(`'${spec.name}' takes at most ${spec.positionals.max} argument(s), got ${n}`);
  const code = await spec.run(
    { values: parsed.values as OptionValues, positionals: parsed.positionals, globals },
    io,
  );
  return code ?? EXIT_OK;
}

let pipesGuarded = false;

export function processIo(): CommandIo {
  if (!pipesGuarded) {
    // `xl stream-dump F | head -1`: the reader leaving ends the output quietly (no EPIPE trace).
    endQuietlyOnClosedPipe(process.stdout);
    endQuietlyOnClosedPipe(process.stderr);
    pipesGuarded = true;
  }
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export async function main(
  argv: string[],
  io: CommandIo = processIo(),
  table: readonly CommandSpec[] = commandTable,
): Promise<number> {
  let verbose = argv.some((a) => /^-v+$/.test(a));
  let spec: CommandSpec | undefined;
  try {
    const { globals, rest, help } = parseGlobals(argv);
    verbose = globals.verbose;
    const [name, ...args] = rest;
    if (name === undefined) {
      (help ? io.stdout : io.stderr).write(`${formatCommandList(table)}\n`);
      return help ? EXIT_OK : EXIT_USAGE;
    }
    const found = lookupCommand(table, name);
    if (!found.spec) {
      const why =
        found.candidates.length > 1
          ? `ambiguous command '${name}': could be ${found.candidates.join(', ')}`
          : `unknown command '${name}'`;
      throw new UsageError(`${why} (see 'xl help')`);
    }
    spec = found.spec;
    return await runCommand(spec, help ? ['--help', ...args] : args, globals, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`xl: ${oneLine(err.message)}\n`);
      if (spec) io.stderr.write(`${formatUsage(spec)}\n`);
      return EXIT_USAGE;
    }
    if (isKnownError(err)) {
      io.stderr.write(`xl: ${oneLine(err.message)}\n`);
      if (verbose) for (const line of causeChain(err)) io.stderr.write(`${oneLine(line)}\n`);
      return EXIT_FAILED;
    }
    io.stderr.write(
      `xl: internal error (a bug in xl):\n${safeLines(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`,
    );
    if (!verbose) io.stderr.write('xl: run it again with -v to see the stack at its source lines\n');
    return EXIT_FAILED;
  }
}
