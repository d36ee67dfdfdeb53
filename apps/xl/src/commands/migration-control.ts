/**
 * What `xl migrate-status` and `xl migrate-abort` share: DOMAIN's running `xl migrate`, reached
 * on its control socket. The socket answering decides, not the record's status (a migration
 * sets 'migrating' only at the end of its bootstrap). By name, the domain is found as it is
 * called until the switch-over, and as NAME--migratedaway after.
 */
import type { CommandArgs, CommandIo, CommandSpec } from '../command.js';
import { XlError } from '../errors.js';
import { askControl, ControlUnavailable } from '../migrate/control-client.js';
import type { ControlCommand, ControlReply } from '../migrate/control-protocol.js';
import { migratedAwayName } from '../migrate/names.js';
import type { DomainRecord } from '../store/domain-record.js';
import { openSession, println } from './common.js';

/** The records DOMAIN may mean, the likeliest first. */
export function migrationCandidates(live: readonly DomainRecord[], nameOrId: string): DomainRecord[] {
  if (/^[0-9]+$/.test(nameOrId)) return live.filter((d) => d.id === Number(nameOrId));
  return [
    ...live.filter((d) => d.name === nameOrId),
    ...live.filter((d) => d.name === migratedAwayName(nameOrId)),
  ];
}

export async function askMigration(
  args: CommandArgs,
  io: CommandIo,
  command: ControlCommand,
): Promise<{ domain: DomainRecord; reply: ControlReply }> {
  const { store, live } = await openSession(args, io);
  const arg = args.positionals[0] ?? '';
  const candidates = migrationCandidates(live, arg);
  if (candidates.length === 0)
    throw new XlError('XL_DOMAIN_NOT_FOUND', `domain '${arg}' does not exist`, { domain: arg });
  for (const domain of candidates) {
    try {
      return { domain, reply: await askControl(store.paths(domain.id).migrationControl, command) };
    } catch (err) {
      if (!(err instanceof ControlUnavailable)) throw err;
    }
  }
  throw new XlError(
    'XL_MIGRATION',
    `domain '${arg}' is not migrating (its status is ${candidates[0]!.status}; no xl migrate answers on its control socket)`,
    { domain: arg },
  );
}

export interface RequestCommandSpec {
  name: string;
  summary: string;
  request: Exclude<ControlCommand, 'status'>;
  /** The failure line's start (the migrating xl's reason follows). */
  refused: (domain: string) => string;
  /** The line printed once the migrating xl accepted the request. */
  done: (domain: string) => string;
}

/** A command that sends one request to DOMAIN's migrating xl and prints its verdict. */
export function requestCommand(spec: RequestCommandSpec): CommandSpec {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: '<Domain>',
    options: {},
    positionals: { min: 1, max: 1 },
    async run(args, io) {
      const name = args.positionals[0] ?? '';
      const { reply } = await askMigration(args, io, spec.request);
      if (!reply.ok)
        throw new XlError('XL_MIGRATION', `${spec.refused(name)}: ${reply.reason}`, { domain: name });
      println(io.stdout, spec.done(name));
      return 0;
    },
  };
}
