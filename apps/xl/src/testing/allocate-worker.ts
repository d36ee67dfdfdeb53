/** Test fixture: one xl-like process allocating, updating and removing domains in a state dir. */
import { DomainStore } from '../store/domain-store.js';
import type { DomainConfig } from '../config/domain-config.js';

const [root = '', prefix = 'w', countText = '5'] = process.argv.slice(2);
const store = new DomainStore(root);
const config: DomainConfig = {
  name: 'x',
  memory: 64,
  vcpus: 1,
  disks: [],
  vifs: [],
  serial: 'none',
  onPoweroff: 'destroy',
  onReboot: 'restart',
  onCrash: 'destroy',
  accel: 'tcg',
  memoryBacking: 'anonymous',
};
const ids: number[] = [];
for (let i = 0; i < Number(countText); i++) {
  const rec = await store.allocate({ name: `${prefix}-${i}`, uuid: `${prefix}-${i}`, config });
  ids.push(rec.id);
  await store.update(rec.id, (r) => ({ ...r, status: 'running' }));
}
process.stdout.write(JSON.stringify(ids));
