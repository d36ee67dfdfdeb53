/**
 * Holds a live migration's switch-over until QEMU has sent all of RAM once, as Xen's own live
 * migration does: every page crosses while the guest runs, then only the pages it dirtied.
 *
 * QEMU 7.2 stops the vCPUs as soon as what it has left fits its downtime limit at the
 * bandwidth it measured over the last 100 ms. In the first pass what it has left counts every
 * page not yet sent at full size, most of them zero pages that cost a few bytes each, while a
 * run of data pages makes the measured bandwidth high. Measured here (`npm run bench --
 * migrate-q`, same guest each time): QEMU stopped the guest with 68 MiB of its first pass still
 * to send, all of which then crossed during the pause (217 ms of downtime, against 18-53 ms
 * for runs whose first pass was done).
 *
 * So the limit starts small (FIRST_PASS_LIMIT_MS, which QEMU can only meet at the end of the
 * pass) and becomes the real one at QEMU's second dirty-bitmap sync (the MIGRATION_PASS event
 * of pass 2), which ends the first pass. A guest with little left dirty then switches over at
 * once; one that dirties more goes on iterating as before.
 */
import { migrateSetParameters, type QmpClient } from '@xlkit/qmp';

/** QEMU's own default downtime-limit (ms), the limit when the user gives none. */
export const QEMU_DEFAULT_DOWNTIME_LIMIT_MS = 300;

/** The limit during the first pass: at a few hundred MB/s, what is left must fit in a few MB. */
export const FIRST_PASS_LIMIT_MS = 10;

export interface FirstPassGate {
  /** Resolves once the real limit is set (the first pass is over). */
  readonly opened: Promise<void>;
  /** Stops watching (the migration is over; QEMU may have completed without a second pass). */
  close(): void;
  /** Sets the real limit if the first pass never ended, so a failed migration leaves QEMU as the user set it. Never throws. */
  release(): Promise<void>;
}

/**
 * Sets the first-pass limit; call before `migrate`. `onError` gets a failure to set the real
 * limit later (the migration must not go on under the small one: it might never converge).
 */
export async function gateFirstPass(qmp: QmpClient, limitMs: number, onError: (err: unknown) => void): Promise<FirstPassGate> {
  const passes = qmp.listen('MIGRATION_PASS');
  try {
    await migrateSetParameters(qmp, { 'downtime-limit': Math.min(FIRST_PASS_LIMIT_MS, limitMs) });
  } catch (err) {
    passes.close();
    throw err;
  }
  let opening: Promise<void> | undefined;
  const open = () => {
    passes.close();
    opening ??= migrateSetParameters(qmp, { 'downtime-limit': limitMs });
    return opening;
  };
  const opened = (async () => {
    for await (const ev of passes) {
      if (typeof ev.data.pass === 'number' && ev.data.pass >= 2) return open();
    }
  })();
  opened.catch(onError);
  return {
    opened,
    close: () => passes.close(),
    async release() {
      await open().catch(() => undefined);
    },
  };
}
