/**
 * A lock file serializing xl processes on one state directory: created with O_EXCL, holding
 * "<pid> <token>". A lock whose owner died is broken (under a second, short-lived mkdir lock so
 * two breakers cannot remove each other's fresh lock).
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemErrorWords, XlError } from '../errors.js';
import { isProcessAlive } from '../host/process-info.js';

export interface LockOptions {
  timeoutMs?: number;
}

const BREAK_LOCK_STALE_MS = 5_000;

async function readOwner(lockPath: string): Promise<string | undefined> {
  try {
    return await readFile(lockPath, 'utf8');
  } catch {
    return undefined;
  }
}

function readOwnerNow(lockPath: string): string | undefined {
  try {
    return readFileSync(lockPath, 'utf8');
  } catch {
    return undefined;
  }
}

async function breakStale(lockPath: string, seen: string): Promise<void> {
  const breaker = `${lockPath}.break`;
  try {
    await mkdir(breaker);
  } catch {
    const st = await stat(breaker).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > BREAK_LOCK_STALE_MS) await rmdir(breaker).catch(() => undefined);
    return;
  }
  try {
    if ((await readOwner(lockPath)) === seen) await unlink(lockPath).catch(() => undefined);
  } finally {
    await rmdir(breaker).catch(() => undefined);
  }
}

/** Runs `fn` holding the lock at `lockPath`; waits for other holders, up to timeoutMs. */
export async function withLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const token = `${process.pid} ${randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + timeoutMs;
  let owner: string | undefined;
  for (;;) {
    try {
      // Synchronous, as the release: one turn of the event loop each, however busy the
      // process (a migration's switch-over takes the lock while the guest is paused).
      writeFileSync(lockPath, token, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new XlError('XL_STATE', `cannot create lock ${lockPath}: ${systemErrorWords(err)}`, {
          cause: err,
        });
      }
    }
    owner = await readOwner(lockPath);
    // An empty file is a holder between open and write: only a pid that is gone is stale.
    const pid = Number(owner?.split(' ')[0]);
    if (owner && owner.endsWith('\n') && !isProcessAlive(pid)) await breakStale(lockPath, owner);
    else if (owner === '') {
      const st = await stat(lockPath).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > BREAK_LOCK_STALE_MS) await breakStale(lockPath, owner);
    }
    if (Date.now() > deadline) {
      throw new XlError(
        'XL_LOCK_TIMEOUT',
        `timed out after ${timeoutMs} ms waiting for the state lock held by pid ${owner?.split(' ')[0] ?? '?'}`,
      );
    }
    await sleep(5 + Math.random() * 20);
  }
  try {
    return await fn();
  } finally {
    if (readOwnerNow(lockPath) === token) {
      try {
        unlinkSync(lockPath);
      } catch {
        // Gone already.
      }
    }
  }
}
