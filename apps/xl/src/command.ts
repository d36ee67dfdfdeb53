import type { ParseArgsConfig } from 'node:util';

/** Where a command reads and writes; injected so commands are testable in-process. */
export interface CommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/** The values `util.parseArgs` produced for a command's declared options. */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandArgs {
  /** Parsed options of this command (after the global ones). */
  values: OptionValues;
  /** Positional arguments. */
  positionals: string[];
  /** Global options given before the command name (e.g. --state-dir). */
  globals: GlobalOptions;
}

export interface GlobalOptions {
  stateDir?: string;
  /** --log-dir: where domains' logs are kept (store/log-dir.ts). */
  logDir?: string;
  verbose: boolean;
}

/**
 * One row of xl's command table (as `struct cmd_spec` in xl_cmdtable.c):
 * help, usage and option parsing are generated from it.
 */
export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage after the command name, e.g. "[options] <Domain> <CheckpointFile>". */
  usage: string;
  /** Option table for util.parseArgs, plus a one-line description per option. */
  options: NonNullable<ParseArgsConfig['options']>;
  optionHelp?: Record<string, string>;
  /** What each string option's value is, as help shows it (`--bandwidth MIB/S`). */
  optionValues?: Record<string, string>;
  /** Minimum and maximum number of positionals (max undefined = unbounded). */
  positionals: { min: number; max?: number };
  /** Hidden from `xl help` (e.g. migrate-receive, "for internal use only"). */
  internal?: boolean;
  run(args: CommandArgs, io: CommandIo): Promise<number | void>;
}
