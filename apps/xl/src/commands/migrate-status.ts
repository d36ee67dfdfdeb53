/** `xl migrate-status [--json] DOMAIN`: the progress of DOMAIN's running `xl migrate` (as virsh domjobinfo). */
import type { CommandSpec } from '../command.js';
import { XlError } from '../errors.js';
import type { MigrationStatus } from '../migrate/status-board.js';
import { formatBytes, formatRate } from '../progress/format.js';
import { println } from './common.js';
import { askMigration } from './migration-control.js';

/** How much is done: by QEMU's remaining figure when there is one, else by bytes moved. */
function percent(s: MigrationStatus): number | undefined {
  if (s.total === undefined || s.total <= 0) return undefined;
  const done = s.remaining === undefined ? s.bytes : s.total - Math.min(s.remaining, s.total);
  return Math.min(100, Math.floor((done / s.total) * 100));
}

/**
 * "migrate web to HOST: phase ram, 812.0 MiB of 1.0 GiB (79%), 310.0 MiB/s, pass 2, dirty 1200
 * pages/s, expected downtime 40 ms, 3.1 s elapsed", and a second line once it cannot be aborted
 * or is being rolled back.
 */
export function formatMigrationStatus(s: MigrationStatus): string[] {
  const pct = percent(s);
  const parts = [
    `phase ${s.phase}`,
    s.total !== undefined && s.total > 0
      ? `${formatBytes(s.bytes)} of ${formatBytes(s.total)} (${pct}%)`
      : formatBytes(s.bytes),
    formatRate(s.rate),
    ...(s.pass === undefined ? [] : [`pass ${s.pass}`]),
    ...(s.dirtyPagesRate === undefined ? [] : [`dirty ${s.dirtyPagesRate} pages/s`]),
    ...(s.expectedDowntimeMs === undefined ? [] : [`expected downtime ${s.expectedDowntimeMs} ms`]),
    `${s.elapsed.toFixed(1)} s elapsed`,
  ];
  const lines = [`migrate ${s.domain} to ${s.host}: ${parts.join(', ')}`];
  if (s.aborted && s.abortable) lines.push('  being rolled back: the domain stays on this host');
  else if (!s.abortable) lines.push('  past the point of no return: it can no longer be aborted');
  return lines;
}

export const migrateStatusCommand: CommandSpec = {
  name: 'migrate-status',
  summary: 'Show the progress of a running migration',
  usage: '[--json] <Domain>',
  options: { json: { type: 'boolean' } },
  optionHelp: { json: 'Print the status as one JSON object' },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const { reply } = await askMigration(args, io, 'status');
    if (!reply.ok)
      throw new XlError('XL_MIGRATION', `xl migrate refused to give its status: ${reply.reason}`);
    const status = reply.status;
    if (status === undefined) throw new XlError('XL_MIGRATION', 'xl migrate answered without a status');
    if (args.values.json === true) println(io.stdout, JSON.stringify(status));
    else for (const line of formatMigrationStatus(status)) println(io.stdout, line);
    return 0;
  },
};
