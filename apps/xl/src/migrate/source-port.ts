/**
 * Everything the sending side does to its own host (the source QEMU, its record, the
 * receiver process), behind one interface: the phase machine drives it, the real one below
 * works on QEMU and the store, and the failure-table test drives a fake.
 */
import type { Readable, Writable } from 'node:stream';
import {
  finalMigrationFigures,
  migrateSetParameters,
  type MigrationCapabilityStatus,
  type MigrationParameters,
  type MigrationProgress,
  type QmpClient,
} from '@xlkit/qmp';
import type { DomainInfo, MigrationKey, RamEndpoint, StreamWriter } from '@xlkit/stream';
import type { DiskSpec } from '../config/disk-spec.js';
import { destroyDomain } from '../domain/destroy.js';
import { connectQmp, leavePostmigrate } from '../domain/qmp.js';
import { collectDomainInfo } from '../ram/domain-info.js';
import { sendRamDirect } from '../ram/direct-outgoing.js';
import type { PostcopyHooks } from '../ram/postcopy-switch.js';
import type { ReturnPathSink } from '../ram/return-path.js';
import { sendRam, type RamProgress } from '../ram/outgoing.js';
import { prepareOutgoing } from '../ram/outgoing-migration.js';
import { MIGRATION_CHUNK, MIGRATION_FLUSH_IDLE_MS, type RamCredit } from '../ram/ram-credit.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { XlError } from '../errors.js';
import { updateMark } from './migration-mark.js';
import { migratedAwayName } from './names.js';
import { rollbackSource, type SourceBefore } from './source-rollback.js';

/** The receiver at the other end of the pipe: its stdin is the forward stream, its stdout the back channel. */
export interface Peer {
  input: Readable;
  output: Writable;
  /** Closes the forward stream, waits for the peer to exit (bounded), then kills it. */
  stop(): Promise<void>;
  /** Stops showing what it says (it was told nothing, so all it can say is that the pipe closed). */
  mute?(): void;
}

export interface RamOptions {
  writer: StreamWriter;
  /** Resume a post-copy paused by a broken link. */
  resume?: boolean;
  /** Post-copy allowed: when to switch, and what to do once QEMU is in post-copy. */
  postcopy?: PostcopyHooks;
  /** Post-copy over the pipe: QEMU's return path from the destination. */
  returnPath?: ReturnPathSink;
  maxBandwidth?: number;
  maxDowntimeMs?: number;
  credit?: RamCredit;
  signal: AbortSignal;
  /**
   * QEMU pauses before the switch-over (vCPUs stopped) and this runs before it goes on; absent,
   * there is no such pause: nothing is done while the guest is stopped but QEMU's own work.
   */
  onPreSwitchover?: () => Promise<void>;
  onProgress: (p: RamProgress) => void;
  /** `prepareRam` set the source QEMU up already: only `migrate` is left. */
  prepared?: boolean;
}

/** The source QEMU's settings for the RAM phase, as `prepareRam` sets them ahead of it. */
export interface RamSetup {
  /** The convergence ladder's starting parameters (ladder-driver.ts), set first. */
  ladder?: MigrationParameters;
  maxBandwidth?: number;
  maxDowntimeMs?: number;
  /** QEMU pauses before the switch-over (a participant's hook runs there). */
  preSwitchover: boolean;
  postcopy: boolean;
  autoConverge: boolean;
  /** The direct transport (it adds this port's own capabilities, e.g. an upgrade's). */
  direct: boolean;
}

/** The direct transport: the source QEMU sends to the destination QEMU's `endpoint` itself. */
export interface DirectRamOptions extends Omit<RamOptions, 'writer' | 'credit' | 'returnPath'> {
  endpoint: RamEndpoint;
  /** The migration's key (MIGRATION_KEY): a TCP endpoint takes only TLS-PSK with it. */
  key?: MigrationKey;
}

export interface RamSent {
  bytes: number;
  chunks: number;
  /** The vCPU stop (wall clock ms), when they were running. */
  stoppedAtMs?: number;
  /** QEMU's downtime figure; ask only after the forward stream's END (QEMU may still be finishing). */
  downtimeMs(): Promise<number | undefined>;
}

export interface SourcePort {
  readonly name: string;
  readonly id: number;
  /** The source QEMU's QMP once open (participants use it). */
  readonly qmp: QmpClient | undefined;
  /** Paths in the source domain's dir that xl owns (QEMU's migration socket, the NBD tunnel socket). */
  readonly sockets: { migration: string; nbd: string };
  /** Where QEMU's NBD client reads the migration key (a moment, for the direct transport over TCP). */
  readonly nbdTlsDir: string;
  /** Connects to QEMU, leaves a stale postmigrate, reads the run state and the domain info. */
  open(disks: readonly DiskSpec[]): Promise<{ status: string; running: boolean; info: DomainInfo }>;
  /** `xl migrate --resume`: connects to a source QEMU whose post-copy a broken link paused (refuses any other). */
  openPaused(): Promise<void>;
  /** Starts the receiver. */
  connect(): Peer;
  setStatus(status: 'migrating' | 'migrated-away'): Promise<void>;
  /**
   * The RAM phase's downtime limit, bandwidth and capabilities, set while the receiver starts
   * its QEMU; that phase is then run with `prepared`. Nothing of it moves the guest.
   */
  prepareRam(o: RamSetup): Promise<void>;
  sendRam(o: RamOptions): Promise<RamSent>;
  sendRamDirect(o: DirectRamOptions): Promise<RamSent>;
  /** Before GO (or when the receiver released the domain): the source exactly as it was. */
  rollback(before: SourceBefore): Promise<{ problem?: string }>;
  /** The domain runs on the destination: the source QEMU and its record go. */
  destroy(): Promise<void>;
  close(): Promise<void>;
}

export interface QemuSourceOptions {
  connect: () => Peer;
  /** The domain's own name, when its record carries the migrated-away one (--resume). */
  name?: string;
  /** Decorates the QMP client (test-only instruments from src/testing; identity otherwise). */
  wrapQmp?: (qmp: QmpClient) => QmpClient;
  /**
   * The domain's info, when the caller has just collected it from this QEMU (an upgrade does,
   * to start the new QEMU early): open() then does not ask again.
   */
  info?: DomainInfo;
  /** Capabilities the direct transport sets besides its own (`x-ignore-shared` for an upgrade). */
  capabilities?: MigrationCapabilityStatus[];
  /**
   * The destination maps this domain's RAM file and owns it from the take-over on: the
   * source's removal must not remove it (store/ram-file.ts).
   */
  handsOverRamFile?: boolean;
}

export function qemuSource(store: DomainStore, domain: DomainRecord, o: QemuSourceOptions): SourcePort {
  let qmp: QmpClient | undefined;
  const paths = store.paths(domain.id);
  /** The open QEMU, with the downtime limit asked for (QEMU's default otherwise). */
  const ready = async (r: { maxDowntimeMs?: number; prepared?: boolean }): Promise<QmpClient> => {
    const q = mustBeOpen(qmp);
    if (r.maxDowntimeMs !== undefined && r.prepared !== true)
      await migrateSetParameters(q, { 'downtime-limit': r.maxDowntimeMs });
    return q;
  };
  return {
    name: o.name ?? domain.name,
    id: domain.id,
    get qmp() {
      return qmp;
    },
    sockets: { migration: paths.migrationSocket, nbd: paths.nbdSocket },
    nbdTlsDir: paths.nbdTls,
    async open(disks) {
      const raw = await connectQmp(store, domain);
      qmp = o.wrapQmp ? o.wrapQmp(raw) : raw;
      // Read-only queries, sent together with the run state's (which they do not depend on).
      const info = o.info !== undefined ? Promise.resolve(o.info) : collectDomainInfo(qmp, disks);
      info.catch(() => undefined);
      const state = await leavePostmigrate(qmp);
      // QEMU's word on whether it ran: what the next xl restores should this one die.
      await store.update(domain.id, (r) => updateMark(r, { wasRunning: state.running }));
      return { ...state, info: await info };
    },
    async openPaused() {
      const raw = await connectQmp(store, domain);
      qmp = o.wrapQmp ? o.wrapQmp(raw) : raw;
      const status =
        ((await qmp.execute<{ status?: unknown }>('query-migrate')).status as string | undefined) ?? 'none';
      if (status !== 'postcopy-paused') {
        throw new XlError(
          'XL_MIGRATION',
          `domain '${domain.name}' has no paused post-copy to resume (its migration is ${status})`,
        );
      }
    },
    connect: o.connect,
    async setStatus(status) {
      await store.update(domain.id, (r) =>
        status === 'migrated-away'
          ? { ...updateMark(r, { pastGo: true }), status, name: migratedAwayName(o.name ?? domain.name) }
          : { ...r, status },
      );
    },
    async prepareRam({ ladder, maxDowntimeMs, direct, ...setup }) {
      const q = mustBeOpen(qmp);
      const capabilities = direct ? (o.capabilities ?? []) : [];
      // In the order the RAM phase would set them, pipelined.
      await Promise.all([
        ladder === undefined ? undefined : migrateSetParameters(q, ladder),
        maxDowntimeMs === undefined
          ? undefined
          : migrateSetParameters(q, { 'downtime-limit': maxDowntimeMs }),
        prepareOutgoing(q, { ...setup, ...(capabilities.length > 0 ? { capabilities } : {}) }),
      ]);
    },
    async sendRam(r) {
      const q = await ready(r);
      const ram = await sendRam(q, {
        ...r,
        socketPath: paths.migrationSocket,
        chunkSize: MIGRATION_CHUNK,
        readAhead: MIGRATION_CHUNK,
        flushIdleMs: MIGRATION_FLUSH_IDLE_MS,
        // The benchmarks' A/B switch: XLKIT_RAM_READ=node reads QEMU's socket through Node.
        nativeRead: process.env.XLKIT_RAM_READ !== 'node',
      });
      return sent(q, ram, ram.chunks);
    },
    async sendRamDirect({ key, ...r }) {
      const q = await ready(r);
      const capabilities = o.capabilities ?? [];
      return sent(
        q,
        await sendRamDirect(q, {
          ...r,
          ...(capabilities.length > 0 ? { capabilities } : {}),
          ...(key === undefined ? {} : { tls: { key, dir: paths.migrationTls } }),
        }),
        0,
      );
    },
    rollback: (before) => rollbackSource(store, domain, qmp, before),
    async destroy() {
      await qmp?.close().catch(() => undefined);
      let current = (await store.get(domain.id)) ?? domain;
      if (o.handsOverRamFile === true && current.ramFile !== undefined) {
        current = await store.update(domain.id, (r) =>
          r.ramFile === undefined ? r : { ...r, ramFile: { ...r.ramFile, owner: false } },
        );
      }
      await destroyDomain(store, current);
    },
    async close() {
      await qmp?.close().catch(() => undefined);
    },
  };
}

/** What the RAM phase reports of a transfer; QEMU's downtime is asked for later (see RamSent). */
function sent(
  q: QmpClient,
  ram: { bytes: number; stoppedAtMs?: number; migration: MigrationProgress },
  chunks: number,
): RamSent {
  return {
    bytes: ram.bytes,
    chunks,
    ...(ram.stoppedAtMs === undefined ? {} : { stoppedAtMs: ram.stoppedAtMs }),
    downtimeMs: async () => (await finalMigrationFigures(q, ram.migration)).downtimeMs,
  };
}

function mustBeOpen(qmp: QmpClient | undefined): QmpClient {
  if (qmp === undefined) throw new Error('the source QEMU is not open');
  return qmp;
}
