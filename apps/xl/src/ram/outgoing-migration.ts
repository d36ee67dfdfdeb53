/**
 * One outgoing QEMU migration driven to its end, for both RAM paths (relayed: outgoing.ts,
 * direct: direct-outgoing.ts): bandwidth and capabilities set, `migrate` to `uri`, then
 * followed to pre-switchover (the caller's hook runs there) and to `completed`, with post-copy
 * switched when due (postcopy-switch.ts) and a resumed post-copy watched. On failure the caller
 * abandons it: cancelled and awaited, unless QEMU cannot go back (post-copy, a resume).
 */
import {
  followMigration,
  migrate,
  migrateCancel,
  migrateContinue,
  migrateSetCapabilities,
  migrateSetParameters,
  type MigrationCapabilityStatus,
  type MigrationProgress,
  type QmpClient,
} from '@xlkit/qmp';
import { settleWithin } from '../settle-within.js';
import { PostcopySwitch, RecoveryWatch, type PostcopyHooks } from './postcopy-switch.js';

/** "No limit" for max-bandwidth (bytes/s): QEMU's default of 128 MiB/s would throttle a local save. */
export const UNLIMITED_BANDWIDTH = Number.MAX_SAFE_INTEGER;

/**
 * --bandwidth caps pre-copy and post-copy alike (QEMU keeps them apart: max-bandwidth, and
 * max-postcopy-bandwidth, where 0 means unlimited).
 */
export function bandwidthLimits(bytesPerSecond: number | undefined): {
  'max-bandwidth': number;
  'max-postcopy-bandwidth': number;
} {
  return {
    'max-bandwidth': bytesPerSecond ?? UNLIMITED_BANDWIDTH,
    'max-postcopy-bandwidth': bytesPerSecond ?? 0,
  };
}

export interface OutgoingOptions {
  /** max-bandwidth in bytes/s (default: unlimited). */
  maxBandwidth?: number;
  /** Extra capabilities, over outgoingCapabilities' defaults. */
  capabilities?: MigrationCapabilityStatus[];
  /** QEMU's auto-converge (the convergence ladder arms it; default off). */
  autoConverge?: boolean;
  /** When given, QEMU pauses before switchover and this runs before migrate-continue. */
  onPreSwitchover?: () => Promise<void>;
  /** Post-copy allowed: when to switch, what to do once QEMU is in post-copy. */
  postcopy?: PostcopyHooks;
  /** Resume a post-copy paused by a broken link (`migrate resume=true`; no capability changes). */
  resume?: boolean;
  /** Every progress sample. */
  onSample?: (m: MigrationProgress) => void;
  /** query-migrate interval (default 500 ms). */
  pollMs?: number;
  /** `prepareOutgoing` already ran with these options: `start` only migrates. */
  prepared?: boolean;
}

/** What `prepareOutgoing` sets on the source QEMU before `migrate`. */
export interface OutgoingSetup {
  maxBandwidth?: number;
  /** QEMU pauses before the switch-over (a hook runs there). */
  preSwitchover?: boolean;
  postcopy?: boolean;
  autoConverge?: boolean;
  /** The caller's, over the defaults (outgoingCapabilities). */
  capabilities?: MigrationCapabilityStatus[];
  /** A resume changes no capability (QEMU, in postcopy-paused, refuses them). */
  resume?: boolean;
}

function setupOf(o: OutgoingOptions): OutgoingSetup {
  return {
    ...(o.maxBandwidth === undefined ? {} : { maxBandwidth: o.maxBandwidth }),
    preSwitchover: o.onPreSwitchover !== undefined,
    postcopy: o.postcopy !== undefined,
    autoConverge: o.autoConverge === true,
    ...(o.capabilities ? { capabilities: o.capabilities } : {}),
    ...(o.resume ? { resume: true } : {}),
  };
}

/**
 * Bandwidth and capabilities, as `start` sets them: a caller with time to spare (the sender
 * while its receiver starts the destination QEMU) runs this earlier and starts with
 * `prepared`. Both commands go out at once (QEMU runs a monitor's commands in order); a
 * failure of either fails this.
 */
export async function prepareOutgoing(qmp: QmpClient, o: OutgoingSetup): Promise<void> {
  await Promise.all([
    migrateSetParameters(qmp, bandwidthLimits(o.maxBandwidth)),
    o.resume ? undefined : migrateSetCapabilities(qmp, outgoingCapabilities(o)),
  ]);
}

/**
 * What `start` asks QEMU for: every capability xl ever switches on is set, on or off, so that
 * nothing an earlier migration of this QEMU set carries over (a failed post-copy, the
 * convergence ladder's throttle, a failed upgrade's `x-ignore-shared`, which would leave a
 * shared-memory guest's RAM out of the next save or migration to another host); the caller's
 * `capabilities` win over these defaults.
 */
export function outgoingCapabilities(o: OutgoingSetup): MigrationCapabilityStatus[] {
  const caps = new Map<string, MigrationCapabilityStatus>();
  for (const c of [
    { capability: 'events', state: true },
    { capability: 'pause-before-switchover', state: o.preSwitchover === true },
    { capability: 'postcopy-ram', state: o.postcopy === true },
    { capability: 'auto-converge', state: o.autoConverge === true },
    { capability: 'x-ignore-shared', state: false },
    ...(o.capabilities ?? []),
  ] satisfies MigrationCapabilityStatus[])
    caps.set(c.capability, c);
  return [...caps.values()];
}

export class OutgoingMigration {
  /** QEMU's final view, once completed (rejects when it failed). */
  readonly outcome: Promise<MigrationProgress>;
  /** Rejects when a post-copy effect failed (the switch, or the caller's hook). */
  readonly hookFailed: Promise<never>;

  private constructor(
    private readonly qmp: QmpClient,
    private readonly resume: boolean,
    private readonly pc: PostcopySwitch | undefined,
    outcome: Promise<MigrationProgress>,
    hookFailed: Promise<never>,
  ) {
    this.outcome = outcome;
    this.hookFailed = hookFailed;
  }

  /** Sets QEMU up and starts the migration to `uri`; throws (nothing to abandon) if it cannot start. */
  static async start(qmp: QmpClient, uri: string, o: OutgoingOptions): Promise<OutgoingMigration> {
    if (!o.prepared) await prepareOutgoing(qmp, setupOf(o));
    let failed!: (err: unknown) => void;
    const hookFailed = new Promise<never>((_, reject) => (failed = reject));
    hookFailed.catch(() => undefined);
    const pc = o.postcopy ? new PostcopySwitch(qmp, o.postcopy, failed) : undefined;
    const recovery = o.resume ? new RecoveryWatch() : undefined;
    await migrate(qmp, { uri, ...(o.resume ? { resume: true } : {}) });
    const onProgress = (m: MigrationProgress) => {
      pc?.sample(m);
      recovery?.sample(m);
      o.onSample?.(m);
    };
    const outcome = (async () => {
      const { onPreSwitchover, pollMs } = o;
      if (onPreSwitchover && !o.resume) {
        await followMigration(qmp, { untilPreSwitchover: true, onProgress, pollMs });
        await onPreSwitchover();
        await migrateContinue(qmp, { state: 'pre-switchover' });
      }
      return followMigration(qmp, { onProgress, pollMs });
    })();
    outcome.catch(() => undefined);
    return new OutgoingMigration(qmp, o.resume === true, pc, outcome, hookFailed);
  }

  /** After `outcome`: waits for the post-copy hook (telling the receiver); whether QEMU went through post-copy. */
  async settled(): Promise<boolean> {
    if (this.pc?.activated) await this.pc.activated;
    return this.pc?.active === true;
  }

  /** A failure: cancel and await QEMU's verdict (bounded), unless it cannot go back (post-copy, a resume). */
  async abandon(): Promise<void> {
    if (this.pc?.active === true || this.resume) return;
    await migrateCancel(this.qmp).catch(() => undefined);
    await settleWithin(this.outcome, 15_000);
  }
}
