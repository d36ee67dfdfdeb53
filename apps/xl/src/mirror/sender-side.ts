/**
 * `xl migrate -q`'s part on the sending side, in the order the migrate flow calls it:
 *   MirrorSender.plan()   before the handshake: which disks, printed
 *   writePlan()           phase 1, after DOMAIN_INFO
 *   takeBackRecord        while waiting for PHASE_READY 1: keeps DISK_EXPORTS
 *   phaseTwo()            PHASE 2; tunnel endpoint; all mirrors until READY; MIRROR_READY
 *   atPreSwitchover()     phase 3, vCPUs stopped: mirrors finished, NBD nodes deleted
 *   afterRam()            the RAM stream sent, before its END: the tunnel's channels ended
 *   abort()               any failure before GO: mirrors force-cancelled, nodes deleted
 */
import type { QmpClient } from '@xlkit/qmp';
import { TunnelService, type DiskExports, type DiskInfo, type StreamRecord } from '@xlkit/stream';
import type { DiskSpec } from '../config/disk-spec.js';
import { waitPhaseReady } from '../link/back-channel.js';
import type { SenderLink } from '../link/handshake.js';
import type { ChannelMux, MuxStats } from '../tunnel/channel-mux.js';
import { listenTunnel, type TunnelListener } from '../tunnel/socket-endpoint.js';
import { attachTunnel, detachTunnel } from '../tunnel/tunnel-link.js';
import { buildDiskPlan, formatDiskPlan, type BuiltPlan, type PlanOptions } from './disk-plan.js';
import { readHostId } from './host-id.js';
import { checkExportSocket, readLocalIdentity } from './local-peer.js';
import { Feature } from '../link/protocol.js';
import { MirrorError } from './mirror-error.js';
import {
  abortMirrors,
  dropClientTls,
  finishMirrors,
  mirrorDisks,
  nbdServerOf,
  startMirrors,
  waitMirrorsReady,
  type DiskProgress,
  type MirrorDisk,
} from './source-mirror.js';
import { settleWithin } from '../settle-within.js';

export type MirrorFlags = Omit<PlanOptions, 'hostId' | 'netns' | 'mntns' | 'uid'>;

export interface PhaseTwoOptions {
  link: SenderLink;
  qmp: QmpClient;
  /** Unix socket path for the tunnel endpoint QEMU's NBD client connects to. */
  tunnelSocket: string;
  /** Where QEMU's NBD client reads the migration key, a moment (direct over TCP). */
  tlsDir: string;
  onProgress?: (disks: DiskProgress[]) => void;
  signal?: AbortSignal;
  /** How long a mirror may go without a new low of remaining bytes before it counts as not converging (ms). */
  stallWindowMs?: number;
}

export class MirrorSender {
  #exports: DiskExports | undefined;
  #disks: MirrorDisk[] = [];
  #mux: ChannelMux | undefined;
  #listener: TunnelListener | undefined;
  #started = false;
  /** The phase-two run in progress, so abort() never races it. */
  #running: Promise<unknown> | undefined;
  /** The tunnel ending its channels after the mirrors finished. */
  #closing: Promise<void> | undefined;

  private constructor(readonly built: BuiltPlan) {}

  static async plan(
    disks: readonly DiskSpec[],
    info: readonly DiskInfo[],
    flags: MirrorFlags,
  ): Promise<MirrorSender> {
    const { netns, mntns, uid } = await readLocalIdentity();
    return new MirrorSender(
      await buildDiskPlan(disks, info, {
        ...flags,
        hostId: await readHostId(),
        netns,
        mntns,
        ...(uid >= 0 ? { uid } : {}),
      }),
    );
  }

  /** Where the receiver's NBD server is, once DISK_EXPORTS arrived (for the user). */
  get exportsLine(): string | undefined {
    const ex = this.#exports;
    if (ex === undefined || ex.transport === 'tunnel') return undefined;
    return ex.socket !== undefined
      ? `disk exports: NBD on the receiver's unix socket ${ex.socket} (the receiver is this host)`
      : `disk exports: NBD over TCP at ${ex.host ?? '?'}:${String(ex.port)}`;
  }

  /**
   * Features the receiver must have (tunnel: TUNNEL_DATA with crcs; direct: its NBD port takes
   * only TLS-PSK with the migration's key).
   */
  get requires(): string[] {
    return this.built.plan.transport === 'tunnel'
      ? [Feature.DISK_MIRROR, Feature.TUNNEL, Feature.TUNNEL_CRC]
      : [Feature.DISK_MIRROR, Feature.DIRECT_TLS];
  }

  get lines(): string[] {
    return formatDiskPlan(this.built);
  }

  /** The tunnel's traffic so far (tunnel transport, during or after phase 2). */
  get tunnelStats(): MuxStats | undefined {
    return this.#mux === undefined ? undefined : { ...this.#mux.stats };
  }

  get exports(): DiskExports | undefined {
    return this.#exports;
  }

  async writePlan(link: SenderLink): Promise<void> {
    await link.writer.writeRecord('DISK_PLAN', this.built.plan);
  }

  /** For waitPhaseReady(back, 1, ...): keeps DISK_EXPORTS. */
  readonly takeBackRecord = (rec: StreamRecord): boolean => {
    if (rec.name !== 'DISK_EXPORTS') return false;
    this.#exports = rec.value;
    return true;
  };

  phaseTwo(o: PhaseTwoOptions): Promise<DiskProgress[]> {
    const run = this.#phaseTwo(o);
    this.#running = run.catch(() => undefined);
    return run;
  }

  async #phaseTwo(o: PhaseTwoOptions): Promise<DiskProgress[]> {
    const ex = this.#exports;
    if (ex === undefined) throw new MirrorError('mirror', 'the receiver did not report its disk exports');
    const planned = this.built.plan.disks.map((d) => d.id).sort();
    if (
      ex.disks
        .map((d) => d.id)
        .sort()
        .join() !== planned.join() ||
      ex.transport !== this.built.plan.transport
    ) {
      throw new MirrorError('mirror', 'the receiver exported other disks or another transport than planned');
    }
    await checkExportSocket(ex);
    const { writer, back } = o.link;
    await writer.writePhase(2);
    if (ex.transport === 'tunnel') {
      this.#mux = attachTunnel({ side: 'odd', reader: back, writer });
      this.#listener = await listenTunnel(this.#mux, o.tunnelSocket, TunnelService.NBD);
    }
    // The back channel must be read all through the mirror (tunnel data and credit, errors).
    const stop = new AbortController();
    const onAbort = () => stop.abort(o.signal?.reason);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const backRead = waitPhaseReady(o.link.back, 2);
    backRead.catch((err: unknown) => stop.abort(err));
    try {
      this.#disks = mirrorDisks(ex);
      this.#started = true;
      const server = nbdServerOf(ex, o.tunnelSocket);
      const key = o.link.key;
      if (server.type === 'inet' && key === undefined)
        throw new MirrorError(
          'mirror',
          'no migration key for the NBD server on TCP: refusing to connect unauthenticated',
        );
      const opts = {
        syncWrites: this.built.plan.syncWrites,
        server,
        ...(server.type === 'inet' && key !== undefined ? { tls: { key, dir: o.tlsDir } } : {}),
        onProgress: o.onProgress,
        signal: stop.signal,
        ...(o.stallWindowMs === undefined ? {} : { stallWindowMs: o.stallWindowMs }),
      };
      await startMirrors(o.qmp, this.#disks, opts);
      const final = await Promise.race([
        waitMirrorsReady(o.qmp, this.#disks, opts),
        backRead.then(() => Promise.reject(new MirrorError('mirror', 'the receiver ended phase 2 early'))),
      ]);
      await writer.writeRecord('MIRROR_READY', { disks: this.#disks.length });
      await backRead;
      return final;
    } catch (err) {
      if (stop.signal.aborted && stop.signal.reason instanceof Error) throw stop.signal.reason;
      throw err;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** vCPUs stopped at pre-switchover: finish every mirror, delete the NBD nodes, drain the tunnel. */
  async atPreSwitchover(qmp: QmpClient): Promise<void> {
    await finishMirrors(qmp, this.#disks);
    this.#started = false;
    // Every write is acknowledged and the NBD nodes are gone, so their connections are closing.
    // Their channels end through the pipe (a round trip through both xl) alongside QEMU's last
    // RAM instead of before it: still inside the guest's pause, but no longer in series with
    // the rest of it, and out of QEMU's downtime (10-15 ms here).
    const mux = this.#mux;
    if (mux === undefined) return;
    // Every write was acknowledged: a channel still open after 10 s holds nothing the target
    // needs, and is reset (the receiver's side drops it when it stops its NBD server).
    this.#closing = mux.idle(10_000).then(() => this.#closeTunnel());
    this.#closing.catch(() => undefined);
  }

  /** After the RAM stream, before the forward stream ends: waits until the tunnel closed. */
  async afterRam(): Promise<void> {
    await this.#closing;
  }

  /** Failure before GO: force-cancel the mirrors, delete the nodes, close the tunnel. */
  async abort(qmp: QmpClient | undefined): Promise<void> {
    // Phase two sees the same abort signal and stops within a poll; let it, then clean up.
    if (this.#running) await settleWithin(this.#running, 30_000);
    if (this.#started && qmp !== undefined) {
      // A dead receiver can leave NBD requests hanging: closing the tunnel fails them, so
      // the cancel goes through. Give a live one a moment to answer first.
      const cancel = abortMirrors(qmp, this.#disks);
      const timer = setTimeout(() => void this.#closeTunnel(), 3_000);
      await cancel;
      clearTimeout(timer);
      this.#started = false;
    }
    // The source runs on: the migration's key leaves its QEMU (after finishMirrors, too).
    if (qmp !== undefined && this.#exports?.transport === 'direct') await dropClientTls(qmp);
    await this.#closeTunnel();
  }

  async #closeTunnel(): Promise<void> {
    if (this.#mux) detachTunnel(this.#mux);
    this.#mux = undefined;
    const l = this.#listener;
    this.#listener = undefined;
    await l?.close();
  }
}
