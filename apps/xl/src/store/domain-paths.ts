/** Every runtime path of a domain lives in its own directory, named by its (never reused) id. */
import path from 'node:path';
import { XlError } from '../errors.js';

export interface DomainPaths {
  dir: string;
  /** The domain's record (JSON). */
  record: string;
  /** QEMU's QMP socket. */
  qmp: string;
  /** QEMU's pid file (-pidfile). */
  pid: string;
  /** Serial console socket (for `xl console` on a TTY). */
  console: string;
  /** Everything the guest wrote to its serial console. */
  consoleLog: string;
  /** QEMU's own log (-D) and stderr of a failed start. */
  qemuLog: string;
  /** For save: a socket QEMU writes the migration stream to. */
  saveSocket: string;
  /** For migrate / migrate-receive: the incoming or outgoing migration stream socket. */
  migrationSocket: string;
  /**
   * An incoming QEMU's second QMP monitor, for post-copy recovery only: the receiver holds an
   * out-of-band connection to it from before post-copy starts (see migrate/postcopy-recovery.ts).
   */
  recoveryMonitor: string;
  /** Where a paused post-copy's QEMU listens for the source again (`migrate-recover`, armed at the break). */
  recoverSocket: string;
  /** For storage migration: an NBD server socket. */
  nbdSocket: string;
  /** The direct transport's TLS-PSK key dirs (0700, only while a migration needs them; qemu/tls-psk.ts). */
  nbdTls: string;
  migrationTls: string;
  /** While `xl migrate` runs: its control socket (`xl migrate-status`, `xl migrate-abort`). */
  migrationControl: string;
  /** The guest's screen over VNC, when the config has vnc without vnclisten. */
  vnc: string;
}

/** sockaddr_un.sun_path holds 108 bytes including the NUL. */
export const MAX_SOCKET_PATH = 107;

export function domainDir(root: string, id: number): string {
  return path.join(root, 'domains', String(id));
}

export function domainPaths(root: string, id: number): DomainPaths {
  const dir = domainDir(root, id);
  return {
    dir,
    record: path.join(dir, 'domain.json'),
    qmp: path.join(dir, 'qmp.sock'),
    pid: path.join(dir, 'qemu.pid'),
    console: path.join(dir, 'console.sock'),
    consoleLog: path.join(dir, 'console.log'),
    qemuLog: path.join(dir, 'qemu.log'),
    saveSocket: path.join(dir, 'save.sock'),
    migrationSocket: path.join(dir, 'migrate.sock'),
    recoveryMonitor: path.join(dir, 'recovery-qmp.sock'),
    recoverSocket: path.join(dir, 'recover.sock'),
    nbdSocket: path.join(dir, 'nbd.sock'),
    nbdTls: path.join(dir, 'nbd-tls'),
    migrationTls: path.join(dir, 'migrate-tls'),
    migrationControl: path.join(dir, 'migrate-control.sock'),
    vnc: path.join(dir, 'vnc.sock'),
  };
}

/** Throws when a socket path of this domain would not fit in a unix socket address. */
export function checkSocketPaths(paths: DomainPaths): void {
  for (const p of [
    paths.qmp,
    paths.console,
    paths.saveSocket,
    paths.migrationSocket,
    paths.recoveryMonitor,
    paths.recoverSocket,
    paths.nbdSocket,
    paths.migrationControl,
    paths.vnc,
  ]) {
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) {
      throw new XlError(
        'XL_STATE',
        `state directory too deep: socket path ${p} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter --state-dir`,
      );
    }
  }
}
