/** Run-state changes through QMP: pause, unpause, shutdown; and rename (store only). */
import { cont, stop, systemPowerdown } from '@xlkit/qmp';
import { XlError } from '../errors.js';
import { checkDomainName } from '../config/domain-config.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { withQmp } from './qmp.js';
import { waitForQemuExit } from './destroy.js';
import { assertNotMigratedAway } from './guard.js';

export async function pauseDomain(store: DomainStore, record: DomainRecord): Promise<DomainRecord> {
  await withQmp(store, record, (qmp) => stop(qmp));
  return store.update(record.id, (r) => ({ ...r, status: 'paused' }));
}

export async function unpauseDomain(store: DomainStore, record: DomainRecord): Promise<DomainRecord> {
  assertNotMigratedAway(record, 'unpause');
  await withQmp(store, record, (qmp) => cont(qmp));
  return store.update(record.id, (r) => ({ ...r, status: 'running' }));
}

export interface ShutdownOptions {
  /** Wait for QEMU to exit and clean up (xl shutdown -w). */
  wait?: boolean;
  /** With wait: give up after this long (0 = forever, the default). */
  timeoutMs?: number;
}

/** ACPI power button; with wait, returns once the domain is gone. */
export async function shutdownDomain(
  store: DomainStore,
  record: DomainRecord,
  options: ShutdownOptions = {},
): Promise<void> {
  await withQmp(store, record, (qmp) => systemPowerdown(qmp));
  await store.update(record.id, (r) => ({ ...r, status: 'shutting-down' }));
  if (!options.wait) return;
  if (!(await waitForQemuExit(record, options.timeoutMs ?? 0, 200))) {
    throw new XlError(
      'XL_QEMU_FAILED',
      `domain '${record.name}' did not shut down within ${options.timeoutMs} ms`,
      { domain: record.name },
    );
  }
  await store.remove(record.id);
}

/** Renames a domain; the new name must be valid and unused. */
export async function renameDomain(
  store: DomainStore,
  record: DomainRecord,
  newName: string,
): Promise<DomainRecord> {
  const problem = checkDomainName(newName);
  if (problem) throw new XlError('XL_CONFIG', problem, { domain: record.name });
  return store.update(record.id, (r) => ({ ...r, name: newName }));
}
