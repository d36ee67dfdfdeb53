/**
 * A domain's logs live in the log dir (log-dir.ts) as `qemu-NAME.log` and `console-NAME.log`,
 * like xl's `qemu-dm-NAME.log` and `xl-NAME.log`: they outlive the domain, and each new domain
 * of that name rotates them (NAME.log becomes NAME.log.1, ... up to LOG_GENERATIONS old
 * copies). The domain's own directory links to them (qemu.log, console.log), so QEMU's argv
 * and every reader name the domain's paths; removing the domain removes only the links.
 */
import { mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { systemErrorWords, XlError } from '../errors.js';
import { createPrivateFile } from '../host/private-files.js';
import type { DomainPaths } from './domain-paths.js';

/** Old copies kept of each log (NAME.log.1 .. NAME.log.4). */
export const LOG_GENERATIONS = 4;

export interface DomainLogs {
  qemu: string;
  console: string;
}

export function domainLogPaths(logDir: string, name: string): DomainLogs {
  return {
    qemu: path.join(logDir, `qemu-${name}.log`),
    console: path.join(logDir, `console-${name}.log`),
  };
}

/** NAME.log → NAME.log.1 → ... → NAME.log.N (the oldest dropped). */
async function rotate(file: string, generations: number): Promise<void> {
  await rm(`${file}.${generations}`, { force: true });
  for (let i = generations - 1; i >= 1; i--)
    await rename(`${file}.${i}`, `${file}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  await rename(file, `${file}.1`).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/**
 * For a domain about to start as `name`: rotates its logs in `logDir` and links the domain's
 * log paths to the fresh ones. Returns where the logs are.
 */
export async function startDomainLogs(
  logDir: string,
  name: string,
  paths: Pick<DomainPaths, 'qemuLog' | 'consoleLog'>,
  generations = LOG_GENERATIONS,
): Promise<DomainLogs> {
  const logs = domainLogPaths(logDir, name);
  try {
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    // The two logs side by side (each a chain of renames): a domain's start waits for this.
    await Promise.all(
      [logs.qemu, logs.console].map(async (file) => {
        await rotate(file, generations);
        // Made here, 0600: QEMU would make the console log 0640 (host/private-files.ts).
        await createPrivateFile(file);
      }),
    );
    await Promise.all([symlink(logs.qemu, paths.qemuLog), symlink(logs.console, paths.consoleLog)]);
  } catch (err) {
    throw new XlError(
      'XL_STATE',
      `cannot set up the logs of '${name}' in ${logDir}: ${systemErrorWords(err)}`,
      {
        cause: err,
      },
    );
  }
  return logs;
}

/** Where a domain's logs are kept (read from its links; undefined for a domain without them). */
export async function keptLogs(
  paths: Pick<DomainPaths, 'qemuLog' | 'consoleLog'>,
): Promise<DomainLogs | undefined> {
  const qemu = await readlink(paths.qemuLog).catch(() => undefined);
  const console = await readlink(paths.consoleLog).catch(() => undefined);
  return qemu === undefined || console === undefined ? undefined : { qemu, console };
}
