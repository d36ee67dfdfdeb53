/** Test fixture: one xl-like process allocating, updating and removing domains in a state dir. */
import { randomUUID } from 'node:crypto';
import { DomainStore } from '../store/domain-store.js';
import { testDomainConfig } from './domain-config.js';

const [root = '', prefix = 'w', countText = '5'] = process.argv.slice(2);
const store = new DomainStore(root);
const config = testDomainConfig();
const ids: number[] = [];
for (let i = 0; i < Number(countText); i++) {
  const rec = await store.allocate({ name: `${prefix}-${i}`, uuid: randomUUID(), config });
  ids.push(rec.id);
  await store.update(rec.id, (r) => ({ ...r, status: 'running' }));
}
process.stdout.write(JSON.stringify(ids));
