/**
 * `xl migrate-receive`'s part of `-q`, in the order the receive flow calls it:
 *   prepare()       phase 1, after DOMAIN_INFO: read DISK_PLAN, every refusal (nothing changed yet)
 *   withoutMirrored() what the host check should look at (the mirrored disks do not exist yet)
 *   createTargets() the targets, sparse; `config` then has each mirrored disk on its target
 *   exportDisks()   phase 1, QEMU up: NBD server and exports, tunnel attached, DISK_EXPORTS
 *   phaseTwo()      PHASE 2 ... MIRROR_READY (tunnel records flow meanwhile), PHASE_READY 2
 *   finish()        after the RAM stream completed, before the domain resumes: NBD server stopped
 *   abort()         any failure before GO, after QEMU is gone: every created target removed
 */
import { rm } from 'node:fs/promises';
import type { QmpClient } from '@xlkit/qmp';
import type {
  DiskExports,
  DiskPlan,
  DomainInfo,
  MigrationKey,
  StreamReader,
  StreamRecord,
  StreamWriter,
} from '@xlkit/stream';
import { TunnelService } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { withQmp } from '../domain/qmp.js';
import { nextExpected } from '../link/forward-records.js';
import type { ChannelMux } from '../tunnel/channel-mux.js';
import { connectTo } from '../tunnel/socket-endpoint.js';
import { attachTunnel, detachTunnel } from '../tunnel/tunnel-link.js';
import { readHostId } from './host-id.js';
import { readLocalIdentity, senderIsLocal } from './local-peer.js';
import { directListenHost } from '../host/listen-host.js';
import { MirrorError } from './mirror-error.js';
import { nbdTlsCreds, startExports, stopExports } from './nbd-exports.js';
import { openTargetRoot } from './target-root.js';
import { createTargets, removeTargets, resolveTargets, type TargetDisk } from './targets.js';

function unexpected(rec: StreamRecord, expected: string): MirrorError {
  if (rec.name === 'MIGRATION_ERROR')
    return new MirrorError('mirror', `the sender gave up: ${rec.value.message}`);
  return new MirrorError('mirror', `the sender sent ${rec.name} where ${expected} belongs`);
}

export class MirrorReceiver {
  #mux: ChannelMux | undefined;
  #created: string[] = [];
  /** The NBD server's key dir, once exported (removed when the server stops or on abort). */
  #tlsDir: string | undefined;

  private constructor(
    readonly plan: DiskPlan,
    readonly targets: readonly TargetDisk[],
    /** The domain config with each mirrored disk on its target. */
    readonly config: DomainConfig,
    /** The sender is this host: the direct transport uses a unix socket. */
    readonly localSender: boolean,
  ) {}

  /** The targets createTargets() will make (existing ones reused with --reuse-target are not). */
  get planned(): string[] {
    return this.targets.filter((t) => !t.exists).map((t) => t.target);
  }

  /** `targetRoot`: the directory the targets must lie in (see target-root.ts); opened here. */
  static async prepare(
    forward: StreamReader,
    config: DomainConfig,
    targetRoot: string,
  ): Promise<MirrorReceiver> {
    const rec = await nextExpected(forward, 'sender', 'the disk plan');
    if (rec.name !== 'DISK_PLAN') throw unexpected(rec, 'DISK_PLAN');
    const plan = rec.value;
    for (const d of plan.disks) {
      const spec = config.disks.find((x) => x.vdev === d.id);
      if (!spec || spec.target === undefined || spec.readOnly || spec.cdrom)
        throw new MirrorError(
          'refused',
          `the disk plan names ${d.id}, which is not a writable disk of the domain's config`,
        );
      if (spec.format !== d.format)
        throw new MirrorError(
          'refused',
          `the disk plan says ${d.id} is ${d.format}, the config says ${spec.format}`,
        );
    }
    const hostId = await readHostId();
    const targets = await resolveTargets(plan, hostId, await openTargetRoot(targetRoot));
    const byId = new Map(targets.map((t) => [t.disk.id, t.target]));
    const disks = config.disks.map((d) =>
      byId.has(d.vdev) ? { ...d, target: byId.get(d.vdev) as string } : d,
    );
    const local =
      plan.transport === 'direct' && (await senderIsLocal(plan, hostId, await readLocalIdentity()));
    return new MirrorReceiver(plan, targets, { ...config, disks }, local);
  }

  /** Domain info and config without the mirrored disks, for the host check before creating them. */
  withoutMirrored(info: DomainInfo, config: DomainConfig): { info: DomainInfo; config: DomainConfig } {
    const ids = new Set(this.targets.map((t) => t.disk.id));
    return {
      info: { ...info, disks: info.disks.filter((d) => !ids.has(d.id)) },
      config: { ...config, disks: config.disks.filter((d) => !ids.has(d.vdev)) },
    };
  }

  async createTargets(): Promise<void> {
    this.#created = await createTargets(this.targets);
  }

  /** NBD server + exports on the incoming QEMU; the tunnel (if any) attached; DISK_EXPORTS sent. */
  async exportDisks(
    store: DomainStore,
    record: DomainRecord,
    link: { forward: StreamReader; writer: StreamWriter; key?: MigrationKey },
    env: NodeJS.ProcessEnv,
  ): Promise<DiskExports> {
    const paths = store.paths(record.id);
    this.#tlsDir = paths.nbdTls;
    const exports = await withQmp(store, record, (qmp) =>
      startExports(qmp, this.targets, {
        transport: this.plan.transport,
        socketPath: paths.nbdSocket,
        localSender: this.localSender,
        host: directListenHost(env),
        qemuPid: record.qemu?.pid ?? 0,
        ...(link.key === undefined ? {} : { tls: { key: link.key, dir: paths.nbdTls } }),
      }),
    );
    if (exports.transport === 'tunnel') {
      this.#mux = attachTunnel({
        side: 'even',
        reader: link.forward,
        writer: link.writer,
        accept: connectTo({ [TunnelService.NBD]: paths.nbdSocket }),
      });
    }
    await link.writer.writeRecord('DISK_EXPORTS', exports);
    return exports;
  }

  /** Phase 2 on this side: the sender mirrors; we wait for its MIRROR_READY and confirm. */
  async phaseTwo(forward: StreamReader, writer: StreamWriter): Promise<void> {
    const phase = await nextExpected(forward, 'sender', 'PHASE 2');
    if (phase.name !== 'PHASE' || phase.value.phase !== 2) throw unexpected(phase, 'PHASE 2');
    const ready = await nextExpected(forward, 'sender', 'the end of the disk mirror phase');
    if (ready.name !== 'MIRROR_READY') throw unexpected(ready, 'MIRROR_READY');
    if (ready.value.disks !== this.targets.length)
      throw new MirrorError(
        'mirror',
        `the sender mirrored ${ready.value.disks} disk(s), the plan has ${this.targets.length}`,
      );
    await writer.writeRecord('PHASE_READY', { phase: 2 });
  }

  /** The migration completed: stop the NBD server (before the domain resumes) and the tunnel. */
  async finish(qmp: QmpClient): Promise<void> {
    await stopExports(qmp, this.#tlsDir === undefined ? undefined : nbdTlsCreds(this.#tlsDir));
    if (this.#mux) {
      await this.#mux.idle(5_000);
      detachTunnel(this.#mux);
    }
  }

  /** GO arrived: the targets are the domain's disks now, never removed by abort(). */
  commit(): void {
    this.#created = [];
  }

  /** Failure before GO (QEMU already destroyed): drop the tunnel, remove what we created. */
  async abort(): Promise<void> {
    if (this.#mux) detachTunnel(this.#mux);
    // QEMU is gone with its object; the key file goes with the domain dir, and here in any case.
    if (this.#tlsDir !== undefined) await rm(this.#tlsDir, { recursive: true, force: true });
    await removeTargets(this.#created);
    this.#created = [];
  }
}
