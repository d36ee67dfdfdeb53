/** DOMAIN arguments: a numeric id or a name, everywhere. */
import { XlError } from '../errors.js';
import type { DomainStore } from '../store/domain-store.js';
import type { DomainRecord } from '../store/domain-record.js';

export async function resolveDomain(store: DomainStore, nameOrId: string): Promise<DomainRecord> {
  const all = await store.list();
  const found = /^[0-9]+$/.test(nameOrId)
    ? all.find((d) => d.id === Number(nameOrId))
    : all.find((d) => d.name === nameOrId);
  if (!found)
    throw new XlError('XL_DOMAIN_NOT_FOUND', `domain '${nameOrId}' does not exist`, { domain: nameOrId });
  return found;
}
