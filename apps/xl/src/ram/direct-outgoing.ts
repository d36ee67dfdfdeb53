/**
 * The source half of a direct RAM transport: QEMU connects straight to the destination QEMU
 * (`migrate uri=tcp:HOST:PORT` or `unix:PATH`, the endpoint the receiver reported) and xl
 * only follows the migration: pause-before-switchover (the caller's hook runs there), then
 * completed. Nothing passes through xl, so nothing is framed or checksummed by xl: QEMU's own
 * stream format is all the checking there is (the relayed path, outgoing.ts, verifies).
 */
import {
  followMigration,
  migrate,
  migrateCancel,
  migrateContinue,
  migrateSetCapabilities,
  migrateSetParameters,
  type MigrationProgress,
  type QmpClient,
} from '@xlkit/qmp';
import { lstat } from 'node:fs/promises';
import type { RamEndpoint } from '@xlkit/stream';
import { XlError } from '../errors.js';
import { settleWithin } from '../settle-within.js';
import { bandwidthLimits, lastEventTime, type RamProgress } from './outgoing.js';
import { PostcopySwitch, RecoveryWatch, type PostcopyHooks } from './postcopy-switch.js';
import { interrupted } from './ram-transfer.js';

export interface DirectSendOptions {
  endpoint: RamEndpoint;
  maxBandwidth?: number;
  onPreSwitchover: () => Promise<void>;
  onProgress?: (p: RamProgress) => void;
  signal?: AbortSignal;
  pollMs?: number;
  /** Post-copy allowed: when to switch, and what to do once QEMU is in post-copy. */
  postcopy?: PostcopyHooks;
  /** Resume a post-copy paused by a broken link (`migrate resume=true`). */
  resume?: boolean;
}

export interface DirectSendResult {
  /** What QEMU reports it transferred. */
  bytes: number;
  migration: MigrationProgress;
  stoppedAtMs?: number;
  /** QEMU went through post-copy. */
  postcopy: boolean;
}

/** The URI QEMU's `migrate` takes for an endpoint (IPv6 in brackets). */
export function endpointUri(e: RamEndpoint): string {
  if (e.transport === 'unix') return `unix:${e.path}`;
  return e.host.includes(':') ? `tcp:[${e.host}]:${e.port}` : `tcp:${e.host}:${e.port}`;
}

/**
 * A unix endpoint comes from the peer: before QEMU is pointed at it, it must be a socket on
 * this host (not a symlink, not a file) that this user owns, or root.
 */
export async function checkUnixEndpoint(e: RamEndpoint, uid = process.geteuid?.() ?? -1): Promise<void> {
  if (e.transport !== 'unix') return;
  const st = await lstat(e.path).catch(() => undefined);
  if (st === undefined || !st.isSocket()) {
    throw new XlError(
      'XL_MIGRATION',
      `the receiver offered its QEMU on the unix socket ${e.path}, which is not a socket on this host`,
    );
  }
  if (uid !== 0 && st.uid !== uid) {
    throw new XlError(
      'XL_MIGRATION',
      `the receiver's socket ${e.path} belongs to uid ${st.uid}, not to this user (${uid})`,
    );
  }
}

export async function sendRamDirect(qmp: QmpClient, o: DirectSendOptions): Promise<DirectSendResult> {
  if (o.signal?.aborted) throw interrupted();
  await checkUnixEndpoint(o.endpoint);
  let outcome: Promise<MigrationProgress> | undefined;
  let pc: PostcopySwitch | undefined;
  const stops = qmp.listen('STOP');
  try {
    await migrateSetParameters(qmp, bandwidthLimits(o.maxBandwidth));
    if (!o.resume) {
      await migrateSetCapabilities(qmp, [
        { capability: 'events', state: true },
        { capability: 'pause-before-switchover', state: true },
        ...(o.postcopy ? [{ capability: 'postcopy-ram' as const, state: true }] : []),
      ]);
    }
    const recovery = o.resume ? new RecoveryWatch() : undefined;
    let failed!: (err: unknown) => void;
    const hookFailed = new Promise<never>((_, reject) => (failed = reject));
    hookFailed.catch(() => undefined);
    pc = o.postcopy ? new PostcopySwitch(qmp, o.postcopy, failed) : undefined;
    await migrate(qmp, { uri: endpointUri(o.endpoint), ...(o.resume ? { resume: true } : {}) });
    const onProgress = (m: MigrationProgress) => {
      pc?.sample(m);
      recovery?.sample(m);
      o.onProgress?.({ bytes: m.transferred, migration: m });
    };
    outcome = (async () => {
      if (!o.resume) {
        await followMigration(qmp, { untilPreSwitchover: true, onProgress, pollMs: o.pollMs });
        await o.onPreSwitchover();
        await migrateContinue(qmp, { state: 'pre-switchover' });
      }
      return followMigration(qmp, { onProgress, pollMs: o.pollMs });
    })();
    const aborted = new Promise<never>((_, reject) => {
      o.signal?.addEventListener('abort', () => reject(interrupted()), { once: true });
    });
    aborted.catch(() => undefined);
    const migration = await Promise.race([outcome, aborted, hookFailed]);
    // The post-copy hook (telling the receiver) must have run before the result counts.
    if (pc?.activated) await pc.activated;
    const stoppedAtMs = await lastEventTime(stops);
    return {
      bytes: migration.transferred,
      migration,
      postcopy: pc?.active === true,
      ...(stoppedAtMs === undefined ? {} : { stoppedAtMs }),
    };
  } catch (err) {
    // In post-copy QEMU cannot go back: no cancel (it would fail anyway); the caller keeps both.
    if (outcome !== undefined && pc?.active !== true && !o.resume) {
      outcome.catch(() => undefined);
      await migrateCancel(qmp).catch(() => undefined);
      await settleWithin(outcome, 15_000);
    }
    throw err;
  } finally {
    stops.close();
  }
}
