/**
 * Files and sockets only their owner may open: what a domain leaves on the host (its logs,
 * its RAM file, QEMU's sockets) is the guest's console output, memory and control.
 *
 * xl runs with umask 077 (bin/xl.js), so what it creates is 0600 or 0700. QEMU does not
 * inherit that: `-daemonize` sets its own umask, 027, so every socket and file QEMU creates
 * afterwards is group-readable (sockets 0750, the console log and a RAM file 0640). So xl
 * creates those files itself, 0600, before QEMU opens them, and narrows QEMU's sockets to
 * 0600 once they exist. Until then they sit in the domain's 0700 directory, which no other
 * user can enter.
 */
import { chmod, constants, lstat, open } from 'node:fs/promises';

const PRIVATE = 0o600;

/**
 * Creates `file` empty with mode 0600, or truncates the one there and makes it 0600 (never
 * through a symlink). `exclusive`: refuse a file already there (a path in a shared directory).
 */
export async function createPrivateFile(file: string, o: { exclusive?: boolean } = {}): Promise<void> {
  const flags =
    constants.O_WRONLY |
    constants.O_CREAT |
    constants.O_NOFOLLOW |
    (o.exclusive === true ? constants.O_EXCL : constants.O_TRUNC);
  const fh = await open(file, flags, PRIVATE);
  try {
    await fh.chmod(PRIVATE);
  } finally {
    await fh.close();
  }
}

/** Makes the sockets among `files` 0600; a path that is missing or not a socket is left alone. */
export async function makeSocketsPrivate(files: readonly string[]): Promise<void> {
  for (const file of files) {
    const st = await lstat(file).catch(() => undefined);
    if (st?.isSocket() === true && (st.mode & 0o777) !== PRIVATE) await chmod(file, PRIVATE);
  }
}
