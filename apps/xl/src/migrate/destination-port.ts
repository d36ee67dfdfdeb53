/**
 * Everything the receiving side does to its own host (refusals, the incoming QEMU, its
 * record, the take-over), behind one interface: the phase machine drives it, the real one
 * below works on QEMU and the store, and the failure-table test drives a fake.
 */
import { cont, type MigrationCapabilityStatus, type QmpClient } from '@xlkit/qmp';
import type { DomainInfo, MigrationKey, RamEndpoint, StreamReader, StreamRecord } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import { destroyDomain } from '../domain/destroy.js';
import { isQemuAlive } from '../domain/liveness.js';
import { assertHostCanRun } from '../domain/host-check.js';
import { announceGuest, vifProblems } from '../domain/vif-taps.js';
import { knownAccel } from '../domain/accel.js';
import { connectQmp } from '../domain/qmp.js';
import { startDomain } from '../domain/start.js';
import { errorMessage, XlError } from '../errors.js';
import { availableMemoryMiB } from '../host/host-memory.js';
import { savedRamBytes } from '../qemu/guest-ram.js';
import { incomingVerdict, listenRamDirect } from '../ram/direct-incoming.js';
import { receiveRam } from '../ram/incoming.js';
import { armAfresh, recoveryArmed, RecoveryMonitor } from '../ram/postcopy-recovery.js';
import { forwardToRecovery } from '../ram/recovery-forwarder.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { watchGuestRan } from './guest-ran.js';
import { incomingName } from './names.js';

export interface StartIncoming {
  /** Disk images created for this domain (recorded before they exist, removed if it is reaped). */
  createdDisks?: string[];
  /** Runs after the record exists, before QEMU starts (creates those images). */
  prepare?: () => Promise<void>;
  /** Called once QEMU's process was spawned. */
  onSpawn?: () => void;
  /**
   * Nothing else connects to this QEMU's QMP before the RAM phase (no `-q` exports): the start's
   * connection is kept for the listener and the take-over.
   */
  keepQmp?: boolean;
}

/** Where a direct transport listens: a unix socket in the domain's dir for a sender on this host, else TCP at `host`. */
export interface DirectAddress {
  sameHost: boolean;
  host: string;
}

/** How the direct transport listens, and whether QEMU is to accept post-copy (`postcopy-ram`). */
export interface DirectListenOptions extends DirectAddress {
  postcopy: boolean;
  /** Recover a paused post-copy (`migrate-recover`). */
  recover?: boolean;
  /**
   * The migration's key (MIGRATION_KEY): a TCP listener takes only TLS-PSK with it (QEMU's,
   * or for a resume xl's own in front of the armed recovery).
   */
  key?: MigrationKey;
}

export interface RamReceived {
  bytes: number;
  chunks: number;
  digest: Buffer;
  status: string;
}

export interface ReceiveRamPort {
  reader: StreamReader;
  /** Recover a paused post-copy (`migrate-recover`). */
  recover?: boolean;
  /** Post-copy allowed: QEMU takes postcopy-ram, and its return path goes here. */
  returnPath?: (piece: Buffer) => void;
  credit?: { window: number; grant: (bytes: number) => void };
  onRecord: (rec: StreamRecord) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface DestinationPort {
  /** The incoming domain, once its record exists. */
  readonly record: DomainRecord | undefined;
  /** Its QEMU's QMP, once the RAM phase connected. */
  readonly qmp: QmpClient | undefined;
  /** When its QEMU reported the incoming migration completed, and when `cont` returned (ms since the epoch). */
  readonly marks?: { completed?: number; resumed?: number };
  /**
   * The incoming QEMU's vCPUs were started (or asked to start) on RAM it shares with the
   * source: from then on the source must never run again, whatever fails (an upgrade with
   * shared RAM). The completion path does not release the sender then.
   */
  ranOnSharedRam?(): boolean;
  /**
   * Whether this QEMU reported RESUME since the take-over: its vCPUs ran. In post-copy an
   * incoming QEMU's `cont` only marks it to start once the device state is loaded; a link cut
   * before that makes QEMU 7.2 exit with the guest never run here.
   */
  guestRan?(): boolean;
  /** Refusals that need no QEMU: a different domain by that name, not enough memory. */
  refuse(config: DomainConfig): Promise<void>;
  /** Whether this host can run the domain (machine type, accelerator, disks that must exist). */
  hostCheck(info: DomainInfo, config: DomainConfig): Promise<void>;
  /** QEMU -incoming defer, paused, as NAME--incoming, owned by this process. */
  start(config: DomainConfig, info: DomainInfo, o: StartIncoming): Promise<DomainRecord>;
  receiveRam(o: ReceiveRamPort): Promise<RamReceived>;
  /**
   * `xl migrate --resume`: the domain this host runs in a post-copy paused by a broken link
   * (same name and uuid, its recovery armed at the break); later RAM calls recover it. No QMP:
   * its QEMU may answer none until pages flow again.
   */
  adopt(config: DomainConfig): Promise<DomainRecord>;
  /** The direct transport: QEMU listens for the source QEMU itself; where, and its verdict. */
  listenRam(
    o: DirectListenOptions,
  ): Promise<{ endpoint: RamEndpoint; completed: Promise<{ status: string }> }>;
  /** The incoming migration may switch to post-copy: marks the record so a reaper asks QEMU first. */
  markPostcopy(): Promise<void>;
  /**
   * A post-copy that broke: the domain is claimed in its record alone (renamed NAME, no owner,
   * its targets kept, postcopy-marked), without a word to QEMU, which may not answer until
   * pages arrive. Undefined when its QEMU is gone (the record goes with it).
   */
  keep(name: string): Promise<DomainRecord | undefined>;
  /**
   * Before post-copy can start: an out-of-band connection to the incoming QEMU's recovery
   * monitor, held until this process ends (ram/postcopy-recovery.ts).
   */
  holdRecovery(): Promise<void>;
  /**
   * The link broke in post-copy: `migrate-recover` through that connection, QEMU listening for
   * `xl migrate --resume` on a socket in the domain's dir. Throws when it cannot be armed.
   */
  armRecovery(): Promise<void>;
  /** After GO: renamed to NAME, resumed unless `paused`. */
  takeOver(name: string, paused: boolean): Promise<void>;
  /**
   * The incoming QEMU and its record go; false when QEMU could not be stopped. Before GO the
   * record goes even then (`always`), as nothing of it may run on; after GO it stays, so the
   * copy remains visible to xl.
   */
  destroy(o: { always: boolean }): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A destination that may go through post-copy: postcopy-ram, and postcopy-blocktime, which makes
 * QEMU count how long the vCPUs waited for pages (`postcopy-blocktime` in its query-migrate until
 * it exits: the page-request round trip, with the source's `postcopy-requests`).
 */
const postcopyCapabilities: MigrationCapabilityStatus[] = [
  { capability: 'postcopy-ram', state: true },
  { capability: 'postcopy-blocktime', state: true },
];

/**
 * How `xl upgrade` starts its destination on this same host: another QEMU binary, the
 * machine type the domain runs on (the new binary's `pc` is a newer one), the source's RAM
 * file mapped as it is, and `x-ignore-shared` so the stream leaves that RAM out.
 */
export interface LocalDestination {
  binary: string;
  /** What the taken-over domain's config names as its device model (undefined: the system's). */
  deviceModel: string | undefined;
  machine: string;
  /** The source's RAM file (memory_backing = "shared"): mapped, not copied, not owned until the take-over. */
  sharedRamFile?: string;
  capabilities: MigrationCapabilityStatus[];
  /** Replaces the host check (the upgrade checked the new binary before anything started). */
  hostCheck: (info: DomainInfo, config: DomainConfig) => Promise<void>;
}

export function qemuDestination(store: DomainStore, local?: LocalDestination): DestinationPort {
  let record: DomainRecord | undefined;
  /** The incoming QEMU was told to run on RAM the source maps too. */
  let ranShared = false;
  /** Whether it reported RESUME after the take-over's `cont`. */
  let guestRan = (): boolean => false;
  let qmp: QmpClient | undefined;
  let recovery: RecoveryMonitor | undefined;
  /** The direct transport: the two QEMUs' link is theirs alone (xl cannot close it). */
  let qemuToQemu = false;
  /** The direct transport over TCP: the incoming QEMU's migration TLS, undone once. */
  let dropIncomingTls: (() => Promise<void>) | undefined;
  /**
   * Resuming: QEMU answers QMP once pages flow again; connected meanwhile, used when it does.
   * Then the recovery monitor is held again (its last client, the receiver that armed the
   * recovery, is gone), so that a link that breaks again can be resumed again.
   */
  const connectLater = (r: DomainRecord): Promise<QmpClient> => {
    const later = connectQmp(store, r, { handshakeTimeoutMs: 120_000 }).then(async (q) => {
      qmp = q;
      recovery ??= await RecoveryMonitor.open(store.paths(r.id).recoveryMonitor).catch(() => undefined);
      return q;
    });
    later.catch(() => undefined);
    return later;
  };
  /** The connection the start kept, while QEMU lives; else a new one (XL_DOMAIN_DEAD when it is gone). */
  const connected = async (r: DomainRecord): Promise<QmpClient> =>
    qmp !== undefined && qmp.state === 'running' && isQemuAlive(r) ? qmp : connectQmp(store, r);
  const marks: { completed?: number; resumed?: number } = {};
  const mustHave = () => {
    if (record === undefined) throw new Error('the incoming domain does not exist yet');
    return record;
  };
  return {
    get record() {
      return record;
    },
    get qmp() {
      return qmp;
    },
    marks,
    ranOnSharedRam: () => ranShared,
    guestRan: () => guestRan(),
    async refuse(config) {
      // A domain named NAME may exist here only if it is the source itself (same host, same uuid).
      for (const d of await store.list()) {
        if (d.name === config.name && d.uuid !== config.uuid) {
          throw new XlError(
            'XL_DOMAIN_EXISTS',
            `a different domain named '${config.name}' already runs on this host (id ${d.id})`,
          );
        }
      }
      // Before anything starts: a guest whose bridge is missing here would be cut off.
      const network = vifProblems(config);
      if (network.length > 0)
        throw new XlError('XL_MIGRATION', `cannot receive domain '${config.name}': ${network.join('; ')}`);
      // Shared RAM stays where it is: the new QEMU needs none of its own.
      if (local?.sharedRamFile !== undefined) return;
      const hostMiB = availableMemoryMiB();
      if (config.memory > hostMiB)
        throw new XlError(
          'XL_MIGRATION',
          // Said to the sender: what is missing, not how much this host has.
          `domain '${config.name}' needs ${config.memory} MiB of memory, more than this host can give now`,
        );
    },
    hostCheck: (info, config) =>
      local ? local.hostCheck(info, config) : assertHostCanRun(info, config, 'receive', store.cacheDir),
    async start(config, info, o) {
      record = await startDomain(store, config, {
        paused: true,
        incoming: 'defer',
        name: incomingName(config.name),
        ramBytes: savedRamBytes(info),
        ...(local
          ? {
              binary: local.binary,
              machine: local.machine,
              receivedBy: 'upgrade' as const,
              ...(local.sharedRamFile === undefined ? {} : { borrowRamFile: local.sharedRamFile }),
            }
          : {}),
        // The host check accepted the source's accelerator for this host.
        accel: knownAccel(info.accel),
        ...(o.createdDisks ? { createdDisks: o.createdDisks } : {}),
        ...(o.prepare ? { prepare: o.prepare } : {}),
        ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
        // An upgrade's start hands its connection to this port, and so does migrate-receive's
        // when nothing else connects (keepQmp): the listener needs no second one. (A -q
        // mirror's exports connect on their own, and QEMU serves one QMP client at a time.)
        ...(local || o.keepQmp === true ? { keepQmp: (q: QmpClient) => void (qmp = q) } : {}),
      });
      return record;
    },
    async receiveRam(o) {
      const r = mustHave();
      const paths = store.paths(r.id);
      const q = o.recover ? connectLater(r) : (qmp = await connected(r));
      const ram = await receiveRam(q, {
        socketPath: o.recover ? paths.recoverSocket : paths.migrationSocket,
        reader: o.reader,
        signal: o.signal,
        ...(o.credit ? { credit: o.credit } : {}),
        capabilities: [
          { capability: 'late-block-activate', state: true },
          ...(o.returnPath ? postcopyCapabilities : []),
        ],
        ...(o.returnPath ? { returnPath: o.returnPath } : {}),
        ...(o.recover ? { recover: true } : {}),
        onRecord: o.onRecord,
      });
      return { bytes: ram.bytes, chunks: ram.chunks, digest: ram.digest, status: ram.migration.status };
    },
    async listenRam(o) {
      const r = mustHave();
      qemuToQemu = true;
      if (o.recover) {
        // Armed at the break: the source QEMU connects to that socket, or across hosts to a port here that leads there.
        const socket = store.paths(r.id).recoverSocket;
        const completed = incomingVerdict(connectLater(r)).then((m) => ({ status: m.status }));
        if (o.sameHost) return { endpoint: { transport: 'unix', path: socket }, completed };
        if (o.key === undefined)
          throw new XlError(
            'XL_MIGRATION',
            'the sender sent no migration key (an older xl): refusing to listen on TCP unauthenticated; resume with --transport tunnel',
          );
        const fwd = await forwardToRecovery(o.host, socket, o.key);
        void completed.then(fwd.close, fwd.close);
        return { endpoint: { transport: 'tcp', host: o.host, port: fwd.port }, completed };
      }
      qmp = await connected(r);
      const direct = await listenRamDirect(qmp, {
        listen: o.sameHost ? { unix: store.paths(r.id).migrationSocket } : { tcp: o.host },
        ...(o.key === undefined ? {} : { tls: { key: o.key, dir: store.paths(r.id).migrationTls } }),
        capabilities: [
          { capability: 'late-block-activate', state: true },
          ...(o.postcopy ? postcopyCapabilities : []),
          ...(local?.capabilities ?? []),
        ],
      });
      dropIncomingTls = direct.dropTls;
      const completed = direct.completed.then((m) => {
        marks.completed = Date.now();
        return { status: m.status };
      });
      // Awaited in phase 3; a migration that fails before then destroys this QEMU, and with it this.
      completed.catch(() => undefined);
      return { endpoint: direct.endpoint, completed };
    },
    async adopt(config) {
      const found = (await store.list()).find((d) => d.name === config.name && d.uuid === config.uuid);
      if (found === undefined) {
        throw new XlError(
          'XL_MIGRATION',
          `no domain '${config.name}' with uuid ${config.uuid ?? '?'} runs on this host to resume`,
        );
      }
      const paths = store.paths(found.id);
      if (!isQemuAlive(found) || !found.postcopy)
        throw new XlError(
          'XL_MIGRATION',
          `domain '${config.name}' has no post-copy recovery armed here (its receiver arms one when the link breaks in post-copy)`,
        );
      // Not listening: a resume broke before its receiver held the recovery monitor again. A new
      // connection arms it if QEMU's main loop runs; otherwise the source is never pointed at it.
      if (!(await recoveryArmed(paths.recoverSocket))) {
        await armAfresh(paths.recoveryMonitor, paths.recoverSocket, { timeoutMs: 3_000 }).catch(
          (err: unknown) => {
            throw new XlError(
              'XL_MIGRATION',
              `domain '${config.name}' has no post-copy recovery armed here, and arming one failed (${errorMessage(err)}): its QEMU waits for a page; only 'xl destroy ${config.name}' is left here`,
              { cause: err },
            );
          },
        );
      }
      record = found;
      return found;
    },
    async markPostcopy() {
      record = await store.update(mustHave().id, (r) => ({ ...r, postcopy: true }));
    },
    async keep(name) {
      const r = mustHave();
      if (!isQemuAlive(r)) {
        await destroyDomain(store, r).catch(() => store.remove(r.id));
        return (record = undefined);
      }
      record = await store.update(r.id, (cur) => {
        const { ownerPid: _owner, createdDisks: _disks, createdFiles: _files, ...rest } = cur;
        // Still `incoming`: its vCPUs were never started (cont is what the take-over sends).
        return { ...rest, name, postcopy: true, status: cur.status === 'incoming' ? 'paused' : cur.status };
      });
      return record;
    },
    async holdRecovery() {
      recovery = await RecoveryMonitor.open(store.paths(mustHave().id).recoveryMonitor);
    },
    async armRecovery() {
      const held = recovery;
      const { recoverSocket, recoveryMonitor } = store.paths(mustHave().id);
      if (held === undefined || !held.open) {
        // A resume that broke before its QMP (and so the monitor) was back: a new connection
        // negotiates if QEMU's main loop runs.
        await armAfresh(recoveryMonitor, recoverSocket).catch((err: unknown) => {
          throw new XlError(
            'XL_MIGRATION',
            `no connection to its recovery monitor was held, and a new one failed: ${errorMessage(err)}`,
            { cause: err },
          );
        });
        return;
      }
      try {
        // Direct, a far end that failed silently leaves QEMU waiting out TCP retries: after 5 s
        // it is made to pause. Relayed, this process closed QEMU's channel: it pauses on its own.
        await held.arm(store.paths(mustHave().id).recoverSocket, qemuToQemu ? { pauseAfterMs: 5_000 } : {});
      } finally {
        await held.close().catch(() => undefined);
      }
    },
    async takeOver(name, paused) {
      const q = qmp;
      if (q === undefined) throw new Error('the incoming QEMU is not connected');
      // In post-copy (the migration still runs): QEMU's main loop answers now, and may not
      // once the link breaks, when a resume's channel arrives; that one must need no TLS in QEMU.
      await dropIncomingTls?.();
      record = await store.update(mustHave().id, (r) => {
        const {
          ownerPid: _owner,
          createdDisks: _disks,
          createdFiles: _files,
          postcopy: _postcopy,
          ...rest
        } = r;
        // The RAM file is this domain's now: the source's removal leaves it (store/ram-file.ts).
        const ramFile = r.ramFile === undefined ? {} : { ramFile: { ...r.ramFile, owner: true } };
        if (local === undefined) return { ...rest, ...ramFile, name, status: 'paused' };
        const { deviceModel: _old, ...config } = rest.config;
        const dm = local.deviceModel === undefined ? {} : { deviceModel: local.deviceModel };
        return { ...rest, config: { ...config, ...dm }, ...ramFile, name, status: 'paused' };
      });
      if (!paused) {
        if (local?.sharedRamFile !== undefined) ranShared = true;
        guestRan = watchGuestRan(q);
        await cont(q);
        marks.resumed = Date.now();
        record = await store.update(record.id, (r) => ({ ...r, status: 'running' }));
      }
      // The guest's MACs now live behind this host's taps: tell the switches.
      await announceGuest(q, record.config);
    },
    async destroy(o) {
      await recovery?.close().catch(() => undefined);
      await qmp?.close().catch(() => undefined);
      const half = record;
      if (half === undefined) return true;
      try {
        await destroyDomain(store, half);
        return true;
      } catch {
        if (o.always) await store.remove(half.id).catch(() => undefined);
        // The store may be what failed (ENOSPC, a read-only state dir) once QEMU was stopped:
        // no copy runs here then, and the record left behind goes with its dead QEMU.
        return !isQemuAlive(half);
      }
    },
    async close() {
      await recovery?.close().catch(() => undefined);
      await qmp?.close().catch(() => undefined);
    },
  };
}
