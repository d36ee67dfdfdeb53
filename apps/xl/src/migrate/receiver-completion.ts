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
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, XlError } from '../errors.js';
import { reportFailed, reportReleased } from '../link/switchover.js';
import { settleWithin } from '../settle-within.js';
import type { DomainRecord } from '../store/domain-record.js';
import { migratedAwayName } from './names.js';
import { required, type Phase, type Walk } from './phases.js';
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
  try {
    return await failed(s, walk.error, walk.phase);
  } finally {
    // Whatever QEMU is still asked (a take-over waiting for pages) is given up: this process ends.
    await s.dest.close();
  }
}

async function failed(s: ReceiverSession, error: unknown, phase: Phase): Promise<never> {
  if (s.postcopy) throw await keepPostcopy(s, error, phase);
  if (s.taken) throw error;
  const stage = RECEIVER_STAGE[phase];
  if (!s.goReceived) await tellSender(s, stage, error);
  else
    s.settings.log(
      `cannot take over the domain: ${errorMessage(error)}; destroying this copy and clearing the sender to resume its own`,
    );
  // A listener begun in bootstrap finishes its QMP calls before its QEMU goes (bounded).
  if (s.listening !== undefined) await settleWithin(s.listening, 5_000);
  const gone = await s.dest.destroy({ always: !s.goReceived });
  if (s.goReceived && s.dest.ranOnSharedRam?.() === true) {
    // Its vCPUs ran on the RAM the source maps too: the source's copy is no longer the guest.
    await reportFailed(s.settings.output).catch(() => undefined);
    throw new XlError(
      'XL_MIGRATION',
      `the take-over failed after the new QEMU ran on the shared RAM: ${errorMessage(error)}; the source must not resume`,
      { cause: error },
    );
  }
  if (s.goReceived && !gone) {
    // Two copies must never run: the sender is not released, its copy stays paused.
    await reportFailed(s.settings.output).catch(() => undefined);
    throw new XlError(
      'XL_MIGRATION',
      `migration failed at the switch-over, and this copy could not be stopped: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  for (const p of [...s.participants].reverse()) await p.rollback?.().catch(() => undefined);
  if (s.goReceived) {
    // The sender resumes its own copy on its own disks once it reads this.
    await reportReleased(s.settings.output).catch(() => undefined);
    throw new XlError('XL_MIGRATION', `migration failed at the switch-over: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const err = error;
  throw err instanceof XlError && err.code !== 'XL_MIGRATION_HANDSHAKE'
    ? new XlError(err.code, `migration not received (${stage}): ${err.message}`, { cause: err })
    : err;
}

/**
 * Past POSTCOPY_GO the source never runs the guest again, and this QEMU holds the RAM the guest
 * changed here: nothing is destroyed. A broken link leaves QEMU in postcopy-paused, and it may
 * answer no QMP until pages arrive, so the domain is claimed in its record alone (its name, no
 * owner, its targets kept) for `xl migrate --resume` or `xl destroy`. Its recovery is armed
 * through the oob connection held since before post-copy (ram/postcopy-recovery.ts), the one
 * way left to reach that QEMU, and this process ends.
 */
async function keepPostcopy(s: ReceiverSession, error: unknown, phase: Phase): Promise<XlError> {
  const name = required(s.config, 'the config').name;
  for (const p of s.participants) p.commit?.();
  const wayOut = `complete it with 'xl migrate --resume ${name} HOST' on the source, or 'xl destroy ${name}' here`;
  const kept = await s.dest.keep(name).then(
    async (r) => {
      if (r === undefined) return gone(s, name);
      // Its QEMU listens for the resume from now on; without that only `xl destroy` is left.
      const armed = await s.dest.armRecovery().then(
        () => wayOut,
        async (err: unknown) => {
          // QEMU may be exiting (a cut before it loaded the device state): its record goes
          // with it then, and the line says so rather than that the domain stays here.
          if (await exitedMeanwhile(s, name)) return undefined;
          return `it cannot be resumed (${errorMessage(err)}): 'xl destroy ${name}' here`;
        },
      );
      if (armed === undefined) return gone(s, name);
      return `the domain '${r.name}' (id ${r.id}) stays on this host, nothing destroyed; ${armed}`;
    },
    (err: unknown) =>
      `the domain '${name}' stays on this host, but its record could not be claimed (${errorMessage(err)}); ${wayOut}`,
  );
  return new XlError(
    'XL_MIGRATION',
    `post-copy broke (${RECEIVER_STAGE[phase]}): ${errorMessage(error)}; ${kept}`,
    { cause: error, domain: name },
  );
}

/**
 * Whether the incoming QEMU exited after all (its record removed by keep()). A QMP connection
 * QEMU closed is the first sign; its process may take a moment to go, so it is looked at for
 * up to 2 s.
 */
async function exitedMeanwhile(s: ReceiverSession, name: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    const r = await s.dest.keep(name).catch(() => null);
    if (r === undefined) return true;
    await sleep(100);
  }
  return false;
}

/**
 * This QEMU is gone (and its record with it). If it never reported RESUME the guest never ran
 * here: QEMU 7.2 exits when the link breaks before it loaded the device state, and the source's
 * paused copy is then the whole guest (the source cannot tell; see PROTOCOL.md).
 */
function gone(s: ReceiverSession, name: string): string {
  if (s.dest.guestRan?.() === false)
    return (
      `its QEMU here exited before the guest ever ran here (no RESUME), so nothing of it is left here: ` +
      `the whole guest is the source's paused copy '${migratedAwayName(name)}'`
    );
  return 'its QEMU here is gone, and the guest with it';
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
