import { describe, expect, it } from 'vitest';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { XlError } from '../errors.js';
import { saveDomain } from '../ram/save-domain.js';
import { unpauseDomain } from './control.js';
import { assertNotMigratedAway } from './guard.js';

const record = (status: DomainRecord['status']): DomainRecord => ({
  id: 7,
  name: 'web--migratedaway',
  uuid: '00000000-0000-4000-8000-000000000075',
  status,
  createdAt: '',
  config: { name: 'web', memory: 128, vcpus: 1, disks: [], vifs: [] } as unknown as DomainRecord['config'],
});
// Any use of the store would be a bug: the refusal comes first.
const untouchable = new Proxy(
  {},
  {
    get: () => {
      throw new Error('the store was used');
    },
  },
) as DomainStore;

describe('a copy left behind after the point of no return', () => {
  it('is refused for unpause, save and migrate, naming the domain and what to do', async () => {
    expect(() => assertNotMigratedAway(record('migrated-away'), 'migrate')).toThrow(
      /refusing to migrate 'web--migratedaway' \(id 7\).*may be running on the destination/,
    );
    await expect(unpauseDomain(untouchable, record('migrated-away'))).rejects.toBeInstanceOf(XlError);
    await expect(
      saveDomain(untouchable, record('migrated-away'), { file: 'x', after: 'destroy' }),
    ).rejects.toThrow(/refusing to save/);
  });

  it('lets every other status through', () => {
    for (const s of ['running', 'paused', 'saving', 'migrating', 'incoming'] as const)
      expect(() => assertNotMigratedAway(record(s), 'save')).not.toThrow();
  });
});
