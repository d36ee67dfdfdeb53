/**
 * Receiver: the incoming QEMU's NBD server and one writable export per target disk, on a
 * unix socket in the domain's directory (tunnel, and direct to a sender on this same host)
 * or on TCP at an address and an ephemeral port (direct). Stopped before the domain
 * resumes, and on every failure.
 */
import {
  blockExportAdd,
  inetSocketAddressLegacy,
  migrateSetCapabilities,
  nbdServerStart,
  nbdServerStop,
  unixSocketAddressLegacy,
  type QmpClient,
} from '@xlkit/qmp';
import type { DiskExports, MirrorTransport } from '@xlkit/stream';
import { diskNodeName } from '../qemu/argv.js';
import { MirrorError } from './mirror-error.js';
import { listeningPortsOf } from '../host/listen-port.js';
import type { TargetDisk } from './targets.js';
import { makeSocketsPrivate } from '../host/private-files.js';

export interface ExportOptions {
  transport: MirrorTransport;
  /** Tunnel, and direct to a local sender: the unix socket path for the NBD server. */
  socketPath: string;
  /** Direct: the sender is this host (see local-peer.ts), so serve on socketPath. */
  localSender?: boolean;
  /** Direct: the address to listen on (one the sender can reach). */
  host: string;
  /** Direct: the incoming QEMU's pid (to learn the port it bound). */
  qemuPid: number;
}

export function exportName(id: string): string {
  return `xlkit-${id}`;
}

export async function startExports(
  qmp: QmpClient,
  targets: readonly TargetDisk[],
  o: ExportOptions,
): Promise<DiskExports> {
  try {
    // Block nodes stay inactive until the migration completes; exports work on them (7.2).
    await migrateSetCapabilities(qmp, [{ capability: 'late-block-activate', state: true }]);
    let port: number | undefined;
    const onUnix = o.transport === 'tunnel' || o.localSender === true;
    if (onUnix) {
      await nbdServerStart(qmp, { addr: unixSocketAddressLegacy(o.socketPath) });
      await makeSocketsPrivate([o.socketPath]); // QEMU made it 0750 (host/private-files.ts)
    } else {
      const before = new Set(await listeningPortsOf(o.qemuPid));
      await nbdServerStart(qmp, { addr: inetSocketAddressLegacy(o.host, 0) });
      port = (await listeningPortsOf(o.qemuPid)).find((p) => !before.has(p));
      if (port === undefined)
        throw new MirrorError('export', `cannot find the port QEMU's NBD server listens on at ${o.host}`);
    }
    for (const t of targets) {
      const node = diskNodeName({ vdev: t.disk.id });
      await blockExportAdd(qmp, {
        type: 'nbd',
        id: exportName(t.disk.id),
        'node-name': node,
        writable: true,
        name: exportName(t.disk.id),
      });
    }
    const disks = targets.map((t) => ({
      id: t.disk.id,
      exportName: exportName(t.disk.id),
      target: t.target,
    }));
    if (o.transport === 'tunnel') return { transport: 'tunnel', disks };
    return onUnix
      ? { transport: 'direct', socket: o.socketPath, disks }
      : { transport: 'direct', host: o.host, port, disks };
  } catch (err) {
    await stopExports(qmp);
    if (err instanceof MirrorError) throw err;
    throw new MirrorError('export', `exporting the target disks over NBD failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Stops the NBD server (removing its exports); quiet when none runs. */
export async function stopExports(qmp: QmpClient): Promise<void> {
  await nbdServerStop(qmp).catch(() => undefined);
}
