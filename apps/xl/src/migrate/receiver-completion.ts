/**
 * The receiving side's ONE completion path. From where the walk stopped it decides:
 *   - no failure: the domain runs (or waits, -p) here;
 *   - before GO: tell the sender why (MIGRATION_ERROR, END), destroy the incoming QEMU and
 *     its record, let the participants remove what they created;
 *   - after GO, the take-over failed: the same removal, then the report FAILED with GO
 *     echoed back, which releases the sender to resume its own copy (xl's rule); if this
 *     copy could not be stopped, FAILED without the echo: the sender keeps its copy paused.
 * link/PROTOCOL.md's failure table lists the cases; failure-table.test.ts holds the code to it.
 */
import { errorMessage, XlError } from '../errors.js';
import { reportFailed, reportReleased } from '../link/switchover.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { Walk } from './phases.js';
import { RECEIVER_STAGE } from './receiver-phases.js';
import type { ReceiverSession } from './receiver-session.js';

export interface ReceiveResult {
  record: DomainRecord;
  running: boolean;
}

export async function completeReceiver(s: ReceiverSession, walk: Walk): Promise<ReceiveResult> {
  if (walk.ok) {
    const record = s.dest.record;
    if (record === undefined) throw new Error('migration session: finished without a domain');
    return { record, running: !s.settings.paused };
  }
  if (s.taken && s.postcopy) {
    // The guest runs here on RAM that is partly still on the source: nothing is destroyed.
    throw new XlError(
      'XL_MIGRATION',
      `post-copy broke (${RECEIVER_STAGE[walk.phase]}): ${errorMessage(walk.error)}; the guest stays here as it is and nothing is destroyed`,
      { cause: walk.error },
    );
  }
  if (s.taken) throw walk.error;
  const stage = RECEIVER_STAGE[walk.phase];
  if (!s.goReceived) await tellSender(s, stage, walk.error);
  else
    s.settings.log(
      `cannot take over the domain: ${errorMessage(walk.error)}; destroying this copy and clearing the sender to resume its own`,
    );
  const gone = await s.dest.destroy({ always: !s.goReceived });
  if (s.goReceived && s.dest.ranOnSharedRam?.() === true) {
    // Its vCPUs ran on the RAM the source maps too: the source's copy is no longer the guest.
    await reportFailed(s.settings.output).catch(() => undefined);
    throw new XlError(
      'XL_MIGRATION',
      `the take-over failed after the new QEMU ran on the shared RAM: ${errorMessage(walk.error)}; the source must not resume`,
      { cause: walk.error },
    );
  }
  if (s.goReceived && !gone) {
    // Two copies must never run: the sender is not released, its copy stays paused.
    await reportFailed(s.settings.output).catch(() => undefined);
    throw new XlError(
      'XL_MIGRATION',
      `migration failed at the switch-over, and this copy could not be stopped: ${errorMessage(walk.error)}`,
      {
        cause: walk.error,
      },
    );
  }
  for (const p of [...s.participants].reverse()) await p.rollback?.().catch(() => undefined);
  if (s.goReceived) {
    // The sender resumes its own copy on its own disks once it reads this.
    await reportReleased(s.settings.output).catch(() => undefined);
    throw new XlError('XL_MIGRATION', `migration failed at the switch-over: ${errorMessage(walk.error)}`, {
      cause: walk.error,
    });
  }
  const err = walk.error;
  throw err instanceof XlError && err.code !== 'XL_MIGRATION_HANDSHAKE'
    ? new XlError(err.code, `migration not received (${stage}): ${err.message}`, { cause: err })
    : err;
}

/** MIGRATION_ERROR and END on the back channel (best effort: the sender may be gone). */
async function tellSender(s: ReceiverSession, stage: string, err: unknown): Promise<void> {
  const writer = s.link?.writer;
  if (writer === undefined) return;
  const code = (err as { code?: unknown }).code;
  try {
    await writer.writeRecord('MIGRATION_ERROR', {
      stage,
      message: errorMessage(err),
      ...(typeof code === 'string' ? { code } : {}),
    });
    await writer.writeRecord('END', null);
  } catch {
    // The sender is gone or the back channel is already closed.
  }
}
