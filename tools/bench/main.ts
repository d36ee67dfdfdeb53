/** `npm run bench -- <name>`: runs one benchmark by name. */
import { benchStream } from './stream.js';
import { benchSaveRestore } from './save-restore.js';
import { benchMigrateQ } from './migrate-q.js';
import { benchMigrate } from './migrate.js';

const benches: Record<string, () => Promise<void>> = { stream: benchStream, 'save-restore': benchSaveRestore, 'migrate-q': benchMigrateQ, migrate: benchMigrate };

const name = process.argv[2];
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await bench();
