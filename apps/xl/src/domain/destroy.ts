/** Hard stop of a domain (xl destroy): kill its QEMU, wait until it is gone, remove its state. */
import { setTimeout as sleep } from 'node:timers/promises';
import { XlError } from '../errors.js';
import type { DomainPaths } from '../store/domain-paths.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { isQemuAlive, notOurQemu } from './liveness.js';

/**
 * The pauses between liveness checks: 2 ms, doubling up to `intervalMs`. A killed QEMU is gone
 * in a few milliseconds, and a migration's switch-over waits for its source's; a fixed 50 ms
 * poll made every such wait last 50 ms at least.
 */
export function* pollPauses(intervalMs: number): Generator<number, never> {
  let pause = Math.min(2, intervalMs);
  for (;;) {
    yield pause;
    pause = Math.min(pause * 2, intervalMs);
  }
}

/** Waits until the domain's QEMU has exited; false on timeout (timeoutMs 0 = forever). */
export async function waitForQemuExit(
  record: DomainRecord,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const pauses = pollPauses(intervalMs);
  while (isQemuAlive(record)) {
    if (timeoutMs > 0 && Date.now() > deadline) return false;
    await sleep(pauses.next().value);
  }
  return true;
}

/**
 * SIGKILL for the domain's QEMU, if it runs, and wait until it has exited: a killed QEMU holds
 * its disks until then. Only a process proven to be the QEMU xl started for this domain
 * (liveness.ts) is signalled; returns why another one was left alone, else undefined.
 */
export async function killQemu(paths: DomainPaths, record: DomainRecord): Promise<string | undefined> {
  if (!record.qemu || !isQemuAlive(record)) return undefined;
  const refused = notOurQemu(paths, record);
  if (refused !== undefined) return isQemuAlive(record) ? refused : undefined;
  try {
    process.kill(record.qemu.pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw new XlError(
        'XL_QEMU_FAILED',
        `cannot kill QEMU pid ${record.qemu.pid} of domain '${record.name}'`,
        { cause: err, domain: record.name },
      );
    }
  }
  if (!(await waitForQemuExit(record))) {
    throw new XlError(
      'XL_QEMU_FAILED',
      `QEMU pid ${record.qemu.pid} of domain '${record.name}' did not exit after SIGKILL`,
      { domain: record.name },
    );
  }
  return undefined;
}

/**
 * Kills the domain's QEMU and removes its state. A record naming a process that is not its
 * QEMU is removed without signalling anything; returns why, for the caller to report.
 */
export async function destroyDomain(store: DomainStore, record: DomainRecord): Promise<string | undefined> {
  const refused = await killQemu(store.paths(record.id), record);
  await store.remove(record.id);
  return refused;
}
