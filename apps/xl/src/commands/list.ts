import type { CommandSpec } from '../command.js';
import { describeDomain, type DomainView } from '../domain/describe.js';
import { resolveDomain } from '../domain/resolve.js';
import type { DomainRecord } from '../store/domain-record.js';
import { openSession, println } from './common.js';

/** xl's list layout (xl_info.c): name padded to 40, then id, memory, vcpus, state, CPU time. */
export function formatListTable(views: DomainView[]): string {
  const lines = ['Name                                        ID   Mem VCPUs\tState\tTime(s)'];
  for (const v of views) {
    lines.push(
      `${v.name.padEnd(40)} ${String(v.id).padStart(5)} ${String(v.memory).padStart(5)} ${String(v.vcpus).padStart(5)}     ${v.state} ${v.cpuSeconds.toFixed(1).padStart(8)}`,
    );
  }
  return lines.join('\n');
}

export const listCommand: CommandSpec = {
  name: 'list',
  summary: 'List information about all/some domains',
  usage: '[options] [Domain ...]',
  options: {
    long: { type: 'boolean', short: 'l' },
    json: { type: 'boolean' },
  },
  optionHelp: {
    long: 'Output all domain details (JSON, as --json)',
    json: 'Output as JSON: config, QEMU pid and version, paths, status from query-status',
  },
  positionals: { min: 0 },
  async run(args, io) {
    const { store, live } = await openSession(args, io);
    let chosen: DomainRecord[] = live;
    if (args.positionals.length > 0) {
      chosen = [];
      for (const p of args.positionals) chosen.push(await resolveDomain(store, p));
    }
    const views: DomainView[] = [];
    for (const d of chosen) views.push(await describeDomain(store, d));
    if (args.values.json === true || args.values.long === true)
      println(io.stdout, JSON.stringify(views, null, 2));
    else println(io.stdout, formatListTable(views));
    return 0;
  },
};
