import { setTimeout as sleep } from 'node:timers/promises';
import { queryMigrate, type MigrationInfo, type MigrationStatus } from '../commands/migration.js';
import { QmpMigrationError, QmpTimeoutError } from '../errors.js';
import type { QmpClient } from '../qmp-client.js';

/** One progress snapshot of a migration, from `query-migrate` (RAM figures). */
export interface MigrationProgress {
  status: MigrationStatus | 'none';
  transferred: number;
  remaining: number;
  total: number;
  /** Throughput in megabits per second, as QEMU reports it. */
  mbps: number;
  /** Guest dirty rate in pages per second. */
  dirtyPagesRate: number;
  /** RAM dirty-sync iteration (`dirty-sync-count`). */
  pass: number;
  totalTimeMs: number | undefined;
  expectedDowntimeMs: number | undefined;
  /** Only present once completed. */
  downtimeMs: number | undefined;
  errorDesc: string | undefined;
  info: MigrationInfo;
}

export interface FollowMigrationOptions {
  onProgress?: (p: MigrationProgress) => void;
  /** Stop (successfully) at `pre-switchover` instead of waiting for `completed`. */
  untilPreSwitchover?: boolean;
  /** Poll interval for `query-migrate` (default 500 ms); MIGRATION events wake it sooner. */
  pollMs?: number;
  /**
   * Total time allowed (0 or absent = none). No single query has a shorter limit: QEMU answers
   * nothing while its final stage holds the big lock (see queryMigrationNow).
   */
  timeoutMs?: number;
}

export function toMigrationProgress(info: MigrationInfo): MigrationProgress {
  const ram = info.ram;
  return {
    status: info.status ?? 'none',
    transferred: ram?.transferred ?? 0,
    remaining: ram?.remaining ?? 0,
    total: ram?.total ?? 0,
    mbps: ram?.mbps ?? 0,
    dirtyPagesRate: ram?.['dirty-pages-rate'] ?? 0,
    pass: ram?.['dirty-sync-count'] ?? 0,
    totalTimeMs: info['total-time'],
    expectedDowntimeMs: info['expected-downtime'],
    downtimeMs: info.downtime,
    errorDesc: info['error-desc'],
    info,
  };
}

/**
 * `query-migrate` while a migration runs, with no reply timeout of its own. QEMU's migration
 * thread holds the big lock through the migration's final stage (7.2: migration_completion
 * stops the vCPUs and writes everything still dirty), and no QMP command is answered until
 * the sink has taken all of it: on a slow disk or link that is as long as the remaining bytes
 * take, minutes for a multi-GiB guest. A fixed reply timeout would fail a healthy migration;
 * a dead QEMU closes the socket and rejects the query at once. `untilMs` (a Date.now()
 * deadline) still bounds the wait when the caller gave one.
 */
export function queryMigrationNow(c: QmpClient, untilMs = Infinity): Promise<MigrationInfo> {
  const left = untilMs - Date.now();
  return queryMigrate(c, { timeoutMs: untilMs === Infinity ? 0 : Math.max(1, left) });
}

/** Re-queries of a `completed` snapshot whose figures are not set yet, and the pause between them. */
const SETTLE_TRIES = 100;
const SETTLE_PAUSE_MS = 2;

/**
 * A completed migration's final figures. QEMU announces `completed` before its migration
 * thread computes total-time and downtime (7.2: migration_completion sets the state,
 * migration_iteration_finish then takes the BQL and calls migration_calculate_complete), so a
 * query answered in between reports both as 0: such a snapshot is queried again until they
 * are set. Anything else (another state, a destination, which reports no total-time) is
 * returned as it is. Call it once the guest runs again, not on the way there: it may wait.
 */
export async function finalMigrationFigures(
  c: QmpClient,
  done: MigrationProgress,
): Promise<MigrationProgress> {
  let p = done;
  for (let i = 0; i < SETTLE_TRIES && p.status === 'completed' && p.totalTimeMs === 0; i++) {
    await sleep(SETTLE_PAUSE_MS);
    p = toMigrationProgress(await queryMigrationNow(c));
  }
  return p;
}

/**
 * Yields a progress snapshot per poll (and per MIGRATION event) until the migration reaches
 * `completed` (or `pre-switchover` with `untilPreSwitchover`); the last snapshot is that state.
 * Throws QmpMigrationError on `failed` or `cancelled`.
 */
export async function* watchMigration(
  c: QmpClient,
  opts: FollowMigrationOptions = {},
): AsyncGenerator<MigrationProgress> {
  const pollMs = opts.pollMs ?? 500;
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  const goal = opts.untilPreSwitchover ? 'pre-switchover' : 'completed';
  const listener = c.listen('MIGRATION');
  try {
    for (;;) {
      listener.clear();
      const p = toMigrationProgress(await queryMigrationNow(c, deadline));
      yield p;
      if (p.status === 'failed' || p.status === 'cancelled')
        throw new QmpMigrationError(p.status, p.errorDesc, goal);
      if (p.status === goal || p.status === 'completed') return;
      const left = deadline - Date.now();
      if (left <= 0) throw new QmpTimeoutError(`following migration to ${goal}`, opts.timeoutMs ?? 0);
      try {
        await listener.get({ timeoutMs: Math.min(pollMs, left) });
      } catch (err) {
        if (!(err instanceof QmpTimeoutError)) throw err;
      }
    }
  } finally {
    listener.close();
  }
}

/** Follows a migration to its goal, reporting each snapshot; resolves with the final one. */
export async function followMigration(
  c: QmpClient,
  opts: FollowMigrationOptions = {},
): Promise<MigrationProgress> {
  let last: MigrationProgress | undefined;
  for await (const p of watchMigration(c, opts)) {
    opts.onProgress?.(p);
    last = p;
  }
  if (last === undefined) throw new QmpMigrationError('none', undefined, 'a migration');
  return last;
}
