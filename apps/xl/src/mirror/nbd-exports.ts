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
import type { DiskExports, MigrationKey, MirrorTransport } from '@xlkit/stream';
import { diskNodeName } from '../qemu/argv.js';
import { addPskServer, removePsk, type PskCreds } from '../qemu/tls-psk.js';
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
  /** Direct over TCP: the server takes only TLS-PSK with the migration's key, read from `dir`. */
  tls?: { key: MigrationKey; dir: string };
}

/** The receiving QEMU's TLS credentials object for its NBD server (direct, TCP). */
export const NBD_TLS_ID = 'xlkit-nbd-tls';

/** The key dir of the NBD server's credentials, for stopExports(). */
export function nbdTlsCreds(dir: string): PskCreds {
  return { id: NBD_TLS_ID, dir };
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
      // Anyone on the host could reach a TCP port: only a client holding the key gets an export.
      if (o.tls === undefined)
        throw new MirrorError(
          'refused',
          'the sender sent no migration key (an older xl): refusing to export the disks on TCP unauthenticated; upgrade it or use --transport tunnel',
        );
      await addPskServer(qmp, nbdTlsCreds(o.tls.dir), o.tls.key);
      const before = new Set(await listeningPortsOf(o.qemuPid));
      await nbdServerStart(qmp, { addr: inetSocketAddressLegacy(o.host, 0), 'tls-creds': NBD_TLS_ID });
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
    await stopExports(qmp, o.tls === undefined ? undefined : nbdTlsCreds(o.tls.dir));
    if (err instanceof MirrorError) throw err;
    throw new MirrorError('export', `exporting the target disks over NBD failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Stops the NBD server (removing its exports) and drops its key; quiet when none runs. */
export async function stopExports(qmp: QmpClient, tls?: PskCreds): Promise<void> {
  await nbdServerStop(qmp).catch(() => undefined);
  if (tls !== undefined) await removePsk(qmp, tls);
}
