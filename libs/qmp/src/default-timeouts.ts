/** Per-command default timeouts (ms). Queries answer at once; block and migration commands may wait on I/O. */
export const QUERY_TIMEOUT_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const LONG_TIMEOUT_MS = 120_000;

const LONG_PREFIXES = [
  'blockdev-',
  'block-job-',
  'job-',
  'drive-',
  'migrate',
  'nbd-server-',
  'block-export-',
];
const LONG_COMMANDS = new Set(['human-monitor-command', 'cont', 'stop']);

/** The timeout `execute` uses when the caller gives none. */
export function defaultTimeoutFor(command: string): number {
  if (command.startsWith('query-')) return QUERY_TIMEOUT_MS;
  if (LONG_COMMANDS.has(command) || LONG_PREFIXES.some((p) => command.startsWith(p))) return LONG_TIMEOUT_MS;
  return DEFAULT_TIMEOUT_MS;
}
