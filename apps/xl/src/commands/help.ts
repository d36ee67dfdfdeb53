import type { CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { formatCommandHelp, formatCommandList, lookupCommand } from '../help.js';
import { println } from './common.js';

/** `xl help [COMMAND]`; needs the table it lives in, so it is built from it. */
export function makeHelpCommand(table: () => readonly CommandSpec[]): CommandSpec {
  return {
    name: 'help',
    summary: 'Print this help',
    usage: '[<Command>]',
    options: {},
    positionals: { min: 0, max: 1 },
    async run(args, io) {
      const name = args.positionals[0];
      if (name === undefined) {
        println(io.stdout, formatCommandList(table()));
        return 0;
      }
      const { spec, candidates } = lookupCommand(table(), name);
      if (!spec)
        throw new UsageError(
          candidates.length > 1
            ? `ambiguous command '${name}': ${candidates.join(', ')}`
            : `unknown command '${name}'`,
        );
      println(io.stdout, formatCommandHelp(spec));
      return 0;
    },
  };
}
