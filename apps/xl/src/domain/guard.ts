/**
 * The copy a migration leaves on its source once the go-ahead was sent (`NAME--migratedaway`)
 * may be running on the destination: resuming, saving or migrating it could run one guest
 * twice on the same disks. Only destroy is allowed.
 */
import type { DomainRecord } from '../store/domain-record.js';
import { XlError } from '../errors.js';

export function assertNotMigratedAway(record: DomainRecord, action: string): void {
  if (record.status !== 'migrated-away') return;
  throw new XlError(
    'XL_MIGRATION',
    `refusing to ${action} '${record.name}' (id ${record.id}): it is the copy left behind by a migration that passed the point of no return, ` +
      'and the domain may be running on the destination; check there, then destroy this copy',
    { domain: record.name },
  );
}
