import type { ExecuteOptions, QmpClient } from '../qmp-client.js';
import type { JsonObject } from '../types.js';

/** MigrationStatus in QEMU 7.2. */
export type MigrationStatus =
  | 'none'
  | 'setup'
  | 'cancelling'
  | 'cancelled'
  | 'active'
  | 'postcopy-active'
  | 'postcopy-paused'
  | 'postcopy-recover'
  | 'completed'
  | 'failed'
  | 'colo'
  | 'pre-switchover'
  | 'device'
  | 'wait-unplug';

/** MigrationCapability in QEMU 7.2. */
export type MigrationCapability =
  | 'xbzrle'
  | 'rdma-pin-all'
  | 'auto-converge'
  | 'zero-blocks'
  | 'compress'
  | 'events'
  | 'postcopy-ram'
  | 'x-colo'
  | 'release-ram'
  | 'block'
  | 'return-path'
  | 'pause-before-switchover'
  | 'multifd'
  | 'dirty-bitmaps'
  | 'postcopy-blocktime'
  | 'late-block-activate'
  | 'x-ignore-shared'
  | 'validate-uuid'
  | 'background-snapshot'
  | 'zero-copy-send'
  | 'postcopy-preempt';

export interface MigrationCapabilityStatus {
  capability: MigrationCapability;
  state: boolean;
}

/** The `migrate-set-parameters` keys xlkit uses (QEMU 7.2 names); others pass through. */
export interface MigrationParameters extends JsonObject {
  'max-bandwidth'?: number;
  'downtime-limit'?: number;
  'max-postcopy-bandwidth'?: number;
  'multifd-channels'?: number;
  'xbzrle-cache-size'?: number;
  'cpu-throttle-initial'?: number;
  'cpu-throttle-increment'?: number;
  'max-cpu-throttle'?: number;
  'tls-creds'?: string;
  'tls-hostname'?: string;
}

/** MigrationStats (`ram` / `disk` in query-migrate). */
export interface MigrationStats {
  transferred: number;
  remaining: number;
  total: number;
  duplicate: number;
  skipped: number;
  normal: number;
  'normal-bytes': number;
  'dirty-pages-rate': number;
  mbps: number;
  'dirty-sync-count': number;
  'postcopy-requests': number;
  'page-size': number;
  'multifd-bytes': number;
  'pages-per-second': number;
  'precopy-bytes'?: number;
  'downtime-bytes'?: number;
  'postcopy-bytes'?: number;
}

/** `query-migrate` result; `{}` before any migration. */
export interface MigrationInfo {
  status?: MigrationStatus;
  ram?: MigrationStats;
  disk?: MigrationStats;
  'total-time'?: number;
  'expected-downtime'?: number;
  downtime?: number;
  'setup-time'?: number;
  'cpu-throttle-percentage'?: number;
  'error-desc'?: string;
  'blocked-reasons'?: string[];
}

export interface MigrateArgs {
  /** `unix:PATH`, `tcp:HOST:PORT`, `exec:CMD` or `fd:NAME` (7.2 has no `file:`). */
  uri: string;
  blk?: boolean;
  inc?: boolean;
  detach?: boolean;
  resume?: boolean;
}

export async function migrate(c: QmpClient, args: MigrateArgs, opts?: ExecuteOptions): Promise<void> {
  await c.execute('migrate', args as unknown as JsonObject, opts);
}

/** Only on a QEMU started with `-incoming defer`, and only once. */
export async function migrateIncoming(
  c: QmpClient,
  args: { uri: string },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('migrate-incoming', args, opts);
}

export async function migrateSetCapabilities(
  c: QmpClient,
  capabilities: MigrationCapabilityStatus[],
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('migrate-set-capabilities', { capabilities }, opts);
}

/** Only the keys given are changed. */
export async function migrateSetParameters(
  c: QmpClient,
  params: MigrationParameters,
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('migrate-set-parameters', params, opts);
}

export function queryMigrate(c: QmpClient, opts?: ExecuteOptions): Promise<MigrationInfo> {
  return c.execute<MigrationInfo>('query-migrate', undefined, opts);
}

export function queryMigrateCapabilities(
  c: QmpClient,
  opts?: ExecuteOptions,
): Promise<MigrationCapabilityStatus[]> {
  return c.execute<MigrationCapabilityStatus[]>('query-migrate-capabilities', undefined, opts);
}

export function queryMigrateParameters(c: QmpClient, opts?: ExecuteOptions): Promise<MigrationParameters> {
  return c.execute<MigrationParameters>('query-migrate-parameters', undefined, opts);
}

/** Resumes a migration paused by `pause-before-switchover` (state `pre-switchover`). */
export async function migrateContinue(
  c: QmpClient,
  args: { state: MigrationStatus },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('migrate-continue', args, opts);
}

export async function migrateStartPostcopy(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('migrate-start-postcopy', undefined, opts);
}

/** `migrate_cancel` (underscore spelling in QEMU). */
export async function migrateCancel(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('migrate_cancel', undefined, opts);
}

/** Only in postcopy-active; allowed out of band (`{ oob: true }`). */
export async function migratePause(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('migrate-pause', undefined, opts);
}

/** Destination side of post-copy recovery; allowed out of band. */
export async function migrateRecover(
  c: QmpClient,
  args: { uri: string },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('migrate-recover', args, opts);
}
