/**
 * TLS-PSK credentials for the direct transport's TCP ports (QEMU 7.2 `tls-creds-psk`): the
 * receiving QEMU's NBD server and migration listener take only a peer holding this
 * migration's key (MIGRATION_KEY); the sending QEMU's NBD client and `migrate` present it.
 *
 * QEMU reads keys from a file, `DIR/keys.psk`, one `USERNAME:HEXKEY` line. A server reads it at
 * each handshake, so its dir lives while the port is open; a client reads it when the object
 * is made, so its dir goes at once. Each dir is made 0700 inside the domain's own 0700 state
 * dir, the file 0600 and exclusive; nothing else ever holds the key on disk.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { migrateSetParameters, type QmpClient } from '@xlkit/qmp';
import type { MigrationKey } from '@xlkit/stream';

/** The PSK identity both ends use (the key, not the name, is the secret). */
export const PSK_USERNAME = 'xlkit';

export interface PskCreds {
  /** The QOM id of the tls-creds-psk object, for `tls-creds`. */
  id: string;
  /** The key file's directory (removed with removePsk). */
  dir: string;
}

async function writeKeyDir(dir: string, key: MigrationKey): Promise<void> {
  // A leftover of a killed xl in our own domain dir: never reuse it.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  await writeFile(path.join(dir, 'keys.psk'), `${PSK_USERNAME}:${key.hex()}\n`, { mode: 0o600, flag: 'wx' });
}

async function addCreds(
  qmp: QmpClient,
  c: PskCreds,
  key: MigrationKey,
  endpoint: 'server' | 'client',
): Promise<void> {
  try {
    await writeKeyDir(c.dir, key);
    await qmp.execute('object-add', {
      'qom-type': 'tls-creds-psk',
      id: c.id,
      endpoint,
      dir: c.dir,
      ...(endpoint === 'client' ? { username: PSK_USERNAME } : {}),
    });
  } catch (err) {
    await rm(c.dir, { recursive: true, force: true });
    throw err;
  }
}

/** Server credentials: the key file stays until removePsk (after the port closed). */
export async function addPskServer(qmp: QmpClient, c: PskCreds, key: MigrationKey): Promise<void> {
  await addCreds(qmp, c, key, 'server');
}

/** Client credentials: QEMU holds the key once the object exists, so its file is gone on return. */
export async function addPskClient(qmp: QmpClient, c: PskCreds, key: MigrationKey): Promise<void> {
  try {
    await addCreds(qmp, c, key, 'client');
  } finally {
    await rm(c.dir, { recursive: true, force: true });
  }
}

/**
 * The object deleted (quietly: QEMU may be gone, or the object never made) and the key file
 * removed. Call it once nothing uses the credentials any more.
 */
export async function removePsk(qmp: QmpClient | undefined, c: PskCreds): Promise<void> {
  await qmp?.execute('object-del', { id: c.id }).catch(() => undefined);
  await rm(c.dir, { recursive: true, force: true });
}

/**
 * Migration back to plain (the domain may later be saved or migrated without TLS), and the
 * credentials gone: how both ends of a direct migration end, whatever its outcome.
 */
export async function dropMigrationTls(qmp: QmpClient, creds: PskCreds | undefined): Promise<void> {
  if (creds === undefined) return;
  await migrateSetParameters(qmp, { 'tls-creds': '' }).catch(() => undefined);
  await removePsk(qmp, creds);
}
