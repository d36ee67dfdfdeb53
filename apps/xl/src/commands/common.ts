/** What most commands start with: open the store, reap dead domains (reporting them), resolve DOMAIN. */
import { safeLines } from '../progress/terminal-text.js';
import type { CommandArgs, CommandIo } from '../command.js';
import { openStore, type DomainStore } from '../store/domain-store.js';
import type { DomainRecord } from '../store/domain-record.js';
import { formatKept, formatReaped, reapDomains } from '../domain/reap.js';
import { resolveDomain } from '../domain/resolve.js';
import { recoverAbandonedMigrations } from '../migrate/recover-migration.js';
import { recoverAbandonedSaves } from '../ram/recover-save.js';

/** Writes text and a newline; control characters in it (from files or peers) shown as escapes. */
export function println(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${safeLines(text)}\n`);
}

export function warn(io: CommandIo, text: string): void {
  println(io.stderr, `xl: warning: ${text}`);
}

export interface Session {
  store: DomainStore;
  /** Domains alive after reaping. */
  live: DomainRecord[];
}

export async function openSession(args: CommandArgs, io: CommandIo): Promise<Session> {
  const store = await openStore(args.globals.stateDir, io.env, args.globals.logDir);
  const { live, reaped, kept } = await reapDomains(store);
  for (const r of reaped) warn(io, formatReaped(r));
  for (const r of kept) warn(io, formatKept(r));
  const recovered = [
    ...(await recoverAbandonedSaves(store, live)),
    ...(await recoverAbandonedMigrations(store, live)),
  ];
  for (const m of recovered) warn(io, m);
  return { store, live: recovered.length > 0 ? await store.list() : live };
}

/** Opens the store and resolves the first positional as DOMAIN. */
export async function openDomain(
  args: CommandArgs,
  io: CommandIo,
): Promise<Session & { domain: DomainRecord }> {
  const session = await openSession(args, io);
  const domain = await resolveDomain(session.store, args.positionals[0] ?? '');
  return { ...session, domain };
}
