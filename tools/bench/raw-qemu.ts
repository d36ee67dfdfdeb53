/**
 * QEMU's own save and restore, driven over QMP with nothing of xl in between: the floor the
 * benchmarks measure xl against. Save: stop, `migrate` to `exec:cat > FILE` (unlimited
 * bandwidth), followed to completed. Restore: start QEMU with a domain's argv plus
 * `-S -incoming defer`, `migrate-incoming` from `exec:cat FILE`, followed to completed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import {
  QmpClient,
  cont,
  followMigration,
  migrate,
  migrateIncoming,
  migrateSetCapabilities,
  migrateSetParameters,
  stop,
} from '@xlkit/qmp';
import { qemuEnv } from '@xlkit/xl';

export interface Timed {
  seconds: number;
  bytes: number;
}

/** fsync of a file (what `sync FILE` does). */
export async function flush(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * QEMU's own save of the guest behind `qmpPath` into `file`. Timed from the stop to completed,
 * and with `durable` to the end of the file's fsync as well. The guest is left stopped.
 */
export async function rawSave(qmpPath: string, file: string, durable = false): Promise<Timed> {
  const qmp = await QmpClient.connect(qmpPath);
  try {
    const t0 = performance.now();
    await stop(qmp);
    await migrateSetParameters(qmp, { 'max-bandwidth': Number.MAX_SAFE_INTEGER });
    await migrateSetCapabilities(qmp, [{ capability: 'events', state: true }]);
    await migrate(qmp, { uri: `exec:cat > ${file}` });
    await followMigration(qmp, { pollMs: 50 });
    if (durable) await flush(file);
    return { seconds: (performance.now() - t0) / 1000, bytes: statSync(file).size };
  } finally {
    await qmp.close();
  }
}

/** Resumes a guest rawSave left stopped (QEMU's postmigrate). */
export async function rawResume(qmpPath: string): Promise<void> {
  const qmp = await QmpClient.connect(qmpPath);
  try {
    await cont(qmp);
  } finally {
    await qmp.close();
  }
}

export interface RawRestored extends Timed {
  pid: number;
  qmpPath: string;
}

/**
 * QEMU's own restore into a new QEMU started from a domain's argv (its paths under
 * `domainDir` moved to `dir`), timed from the start of QEMU to completed (and the `cont`
 * with `resume`). The new QEMU is left running; the caller kills `pid`.
 */
export async function rawRestore(
  qemu: { argv: string[]; binary: string },
  domainDir: string,
  dir: string,
  file: string,
  resume = false,
): Promise<RawRestored> {
  const args = qemu.argv.map((a) => a.split(domainDir).join(dir));
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(qemu.binary, [...args, '-S', '-incoming', 'defer'], {
      stdio: 'ignore',
      env: qemuEnv(),
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`raw QEMU exited with ${String(code)}`)),
    );
  });
  const pid = Number(readFileSync(path.join(dir, 'qemu.pid'), 'utf8').trim());
  const qmpPath = path.join(dir, 'qmp.sock');
  const qmp = await QmpClient.connect(qmpPath);
  try {
    await migrateSetCapabilities(qmp, [{ capability: 'events', state: true }]);
    await migrateIncoming(qmp, { uri: `exec:cat ${file}` });
    await followMigration(qmp, { pollMs: 50 });
    if (resume) await cont(qmp);
    return { seconds: (performance.now() - t0) / 1000, bytes: statSync(file).size, pid, qmpPath };
  } catch (err) {
    killQuietly(pid);
    throw err;
  } finally {
    await qmp.close();
  }
}

export function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
