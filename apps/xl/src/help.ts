/** `xl help` and `xl COMMAND --help`, generated from the command table (as xl's help). */
import type { CommandSpec } from './command.js';

export function formatCommandList(table: readonly CommandSpec[]): string {
  const visible = table.filter((c) => !c.internal);
  const width = Math.max(...visible.map((c) => c.name.length)) + 2;
  return [
    'Usage xl [-v] [--state-dir DIR] [--log-dir DIR] <subcommand> [args]',
    '',
    'xl full list of subcommands:',
    '',
    ...visible.map((c) => ` ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Global options: -v (verbose: error causes), --state-dir DIR (default: $XL_STATE_DIR,',
    '/run/xl for root, else $XDG_RUNTIME_DIR/xl), --log-dir DIR (domain logs, kept after the',
    'domain ends: qemu-NAME.log, console-NAME.log; default: $XL_LOG_DIR, /var/log/xl for root',
    'with the default state dir, else DIR/logs under the state dir). DOMAIN is a name or an id.',
  ].join('\n');
}

export function formatUsage(spec: CommandSpec): string {
  return `Usage: xl ${spec.name}${spec.usage === '' ? '' : ` ${spec.usage}`}`;
}

export function formatCommandHelp(spec: CommandSpec): string {
  const lines = [formatUsage(spec), '', `${spec.summary}.`];
  let width = 24;
  const opts = Object.entries(spec.options);
  if (opts.length > 0) {
    lines.push('', 'Options:', '');
    const flags = opts.map(([name, o]) => {
      const value = o.type === 'string' ? ` ${spec.optionValues?.[name] ?? 'VALUE'}` : '';
      return [name, `${o.short ? `-${o.short}, ` : ''}--${name}${value}`] as const;
    });
    width = Math.max(width, ...flags.map(([, f]) => f.length + 2));
    for (const [name, flag] of flags)
      lines.push(`${flag.padEnd(width)}${spec.optionHelp?.[name] ?? ''}`.trimEnd());
  }
  lines.push(`${'-h, --help'.padEnd(width)}Print this help.`);
  return lines.join('\n');
}

/** xl's cmdtable_lookup: an exact name wins, else a unique prefix; ambiguous or none → undefined. */
export function lookupCommand(
  table: readonly CommandSpec[],
  name: string,
): { spec?: CommandSpec; candidates: string[] } {
  const exact = table.find((c) => c.name === name);
  if (exact) return { spec: exact, candidates: [exact.name] };
  const matches = name === '' ? [] : table.filter((c) => c.name.startsWith(name));
  return matches.length === 1
    ? { spec: matches[0], candidates: [matches[0]!.name] }
    : { candidates: matches.map((c) => c.name) };
}
