/**
 * The sending side's ONE completion path. From where the walk stopped it decides:
 *   - no failure: the result;
 *   - before GO: roll back (tell the receiver, undo the participants, resume the source as it
 *     was, let the receiver remove what it created);
 *   - after GO, the receiver released the domain (it destroyed its copy, GO echoed): resume;
 *   - after GO otherwise: keep the source paused as NAME--migratedaway, never resume;
 *   - in cleanup (the domain runs on the destination): say so; the paused copy here is left
 *     for `xl destroy`.
 * link/PROTOCOL.md's failure table lists the cases; failure-table.test.ts holds the code to it.
 */
import { errorMessage, XlError } from '../errors.js';
import { describePeerHost } from '../host/host-identity.js';
import { settleWithin } from '../settle-within.js';
import { migratedAwayName } from './names.js';
import type { Walk } from './phases.js';
import { ReleasedByReceiver } from './sender-phases.js';
import type { SenderSession } from './sender-session.js';

export interface MigrateResult {
  name: string;
  host: string;
  /** Where the domain runs now, in words ("web2", "this host (alpha)"). */
  runsOn: string;
  /** The receiver's host name as it reported it (absent from an older xl). */
  hostname?: string;
  /** Seconds per phase: handshake, bootstrap, [mirror,] ram, switchover, cleanup. */
  phases: Record<string, number>;
  totalSeconds: number;
  ramBytes: number;
  chunks: number;
  /** As QEMU reports it (ms): from the vCPU stop until the source has sent everything. */
  downtimeMs: number | undefined;
  /** How long the guest was paused: the source's vCPU stop to the receiver's report that it runs (ms; absent with -p or a paused domain). */
  pausedMs?: number;
  /** When the source's vCPUs stopped for the switch-over (ms since the epoch; absent with -p or a paused domain). */
  stoppedAtMs?: number;
  /** When QEMU had sent everything and when GO was written (ms since the epoch). */
  marks: { sent?: number; go?: number };
}

export async function completeSender(s: SenderSession, walk: Walk): Promise<MigrateResult> {
  try {
    if (walk.ok) return await result(s);
    if (s.taken) throw leftoverHere(s, walk.error);
    if (s.goSent && walk.error instanceof ReleasedByReceiver) throw await released(s);
    if (s.goSent) throw pointOfNoReturn(s, walk.error);
    if (s.postcopyActive) throw await postcopyBroken(s, walk.error);
    throw await rollBack(s, walk.phase, walk.error);
  } finally {
    // Last, on every path: the receiver sees EOF and exits (removing what it created unless it
    // took the domain), given time before it is killed.
    await s.source.close();
    await s.peer?.stop();
  }
}

async function result(s: SenderSession): Promise<MigrateResult> {
  s.stages.end();
  const ram = s.ram;
  const stoppedAt = s.settings.paused ? undefined : ram?.stoppedAtMs;
  const hostname = s.link?.peer.hostname;
  return {
    name: s.source.name,
    host: s.settings.host,
    runsOn: peerHost(s),
    ...(hostname === undefined ? {} : { hostname }),
    phases: s.stages.durations(),
    totalSeconds: s.stages.total(),
    ramBytes: ram?.bytes ?? 0,
    chunks: ram?.chunks ?? 0,
    downtimeMs: s.downtimeMs,
    marks: { ...s.marks },
    ...(stoppedAt === undefined ? {} : { stoppedAtMs: stoppedAt }),
    ...(stoppedAt === undefined || s.resumedAtMs === undefined
      ? {}
      : { pausedMs: Math.max(0, Math.round(s.resumedAtMs - stoppedAt)) }),
  };
}

/** The receiving host in words: its name as it reported it, never the receiver's command. */
function peerHost(s: SenderSession): string {
  return (
    s.settings.upgrade?.to ??
    describePeerHost(s.link?.peer, {
      host: s.settings.host,
      hostIsCommand: s.settings.hostIsCommand === true,
    })
  );
}

/**
 * The messages' words for the move and its two ends: "migration to HOST" from "this host", or
 * for `xl upgrade`, "upgrade to QEMU 10.0.2" from "QEMU 7.2.22" (both on this host).
 */
function ends(s: SenderSession): { move: string; there: string; here: string } {
  const u = s.settings.upgrade;
  if (u !== undefined) return { move: `upgrade to ${u.to}`, there: u.to, here: u.from };
  const host = peerHost(s);
  return { move: `migration to ${host}`, there: host, here: 'this host' };
}

/** Before GO: everything back as it was; the error says where the domain runs. */
async function rollBack(s: SenderSession, phase: string, err: unknown): Promise<XlError> {
  s.settings.progress.clear();
  const signal = s.failure.signal;
  // A broken pipe is a symptom; the receiver's own words (or its EOF) are the cause.
  if (!signal.aborted && s.backDone !== undefined) await settleWithin(s.backDone, 2_000);
  const why: unknown = signal.aborted ? signal.reason : err;
  if (s.link !== undefined) {
    // The receiver says whose words these are ("the sender gave up: ...").
    const message = errorMessage(why);
    await settleWithin(s.link.writer.writeRecord('MIGRATION_ERROR', { stage: phase, message }), 1_000);
  }
  for (const p of [...s.participants].reverse()) await p.rollback?.(s).catch(() => undefined);
  // The record's move to migrated-away, begun early, lands before the rollback undoes it.
  await s.movedAway?.catch(() => undefined);
  const kept = await s.source.rollback(s.before);
  const interrupted = why instanceof XlError && why.code === 'XL_INTERRUPTED';
  const name = s.source.name;
  const { move, here } = ends(s);
  const where =
    kept.problem !== undefined
      ? `the domain '${name}' is still on ${here} but ${kept.problem}`
      : `the domain '${name}' still runs on ${here}${s.before.running ? '' : ' (paused, as before)'}`;
  return new XlError(
    interrupted ? 'XL_INTERRUPTED' : 'XL_MIGRATION',
    `${move} failed in ${phase}: ${errorMessage(why)}; ${where}`,
    {
      cause: why,
      domain: name,
    },
  );
}

/** After GO the receiver destroyed its copy and released the domain: the source resumes. */
async function released(s: SenderSession): Promise<XlError> {
  await s.movedAway?.catch(() => undefined);
  const kept = await s.source.rollback(s.before);
  const name = s.source.name;
  const { move, here } = ends(s);
  return new XlError(
    'XL_MIGRATION',
    `${move} failed at the switch-over: the receiver could not take the domain and destroyed its copy; ` +
      (kept.problem === undefined
        ? `the domain '${name}' runs on ${here} again`
        : `the domain '${name}' is back on ${here} but ${kept.problem}`),
    { domain: name },
  );
}

/** After GO, no word from the receiver: the domain may run there; ours stays paused, never resumed. */
function pointOfNoReturn(s: SenderSession, err: unknown): XlError {
  const name = s.source.name;
  const { there, here } = ends(s);
  const upgrade = s.settings.upgrade !== undefined;
  return new XlError(
    'XL_MIGRATION',
    `${upgrade ? 'UPGRADE' : 'MIGRATION'} FAILED AFTER THE POINT OF NO RETURN (${errorMessage(err)}). The domain '${name}' may be running on ${there}; ` +
      `its copy ${upgrade ? `on ${here}` : 'here'} is kept paused as '${migratedAwayName(name)}' (id ${s.source.id}) and will not be resumed. ` +
      `Check ${upgrade ? "'xl list'" : there} before destroying either copy.`,
    { cause: err, domain: name },
  );
}

/**
 * In post-copy the guest was switched to the destination while part of its RAM is still here
 * (whether it runs there is not known from here): the source is never resumed and nothing is
 * destroyed (either QEMU may hold pages the other lacks).
 */
async function postcopyBroken(s: SenderSession, err: unknown): Promise<XlError> {
  s.settings.progress.clear();
  await s.source.setStatus('migrated-away').catch(() => undefined);
  const { host } = s.settings;
  const name = s.source.name;
  return new XlError(
    'XL_MIGRATION',
    `MIGRATION FAILED IN POST-COPY (${errorMessage(err)}). The domain '${name}' was switched to ${host} with part of its ` +
      `RAM still here; its copy here is kept paused as '${migratedAwayName(name)}' (id ${s.source.id}) and will not be resumed. ` +
      `If both QEMUs still run, 'xl migrate --resume ${name} ${host}' completes the move; destroy neither copy until ${host} is checked.`,
    { cause: err, domain: name },
  );
}

/** The domain runs on the destination; removing the paused copy here failed. */
function leftoverHere(s: SenderSession, err: unknown): XlError {
  const name = s.source.name;
  const { there, here } = ends(s);
  return new XlError(
    'XL_MIGRATION',
    `domain '${name}' now runs on ${there}, but removing its paused copy '${migratedAwayName(name)}' ${s.settings.upgrade ? `on ${here}` : 'here'} failed: ${errorMessage(err)}`,
    { cause: err, domain: name },
  );
}
