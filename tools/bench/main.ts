/**
 * `npm run bench -- <name>`: runs one benchmark by name. Each is imported only when chosen, so
 * the process that measures (the stream benchmark's reader, say) carries no unrelated code.
 */
const benches: Record<string, () => Promise<() => Promise<void>>> = {
  stream: async () => (await import('./stream.js')).benchStream,
  'save-restore': async () => (await import('./save-restore.js')).benchSaveRestore,
  migrate: async () => (await import('./migrate.js')).benchMigrate,
  'migrate-q': async () => (await import('./migrate-q.js')).benchMigrateQ,
  postcopy: async () => (await import('./postcopy.js')).benchPostcopy,
  upgrade: async () => (await import('./upgrade.js')).benchUpgrade,
  peers: async () => (await import('./peers.js')).benchPeers,
  tls: async () => (await import('./tls.js')).benchTls,
};

const name = process.argv[2];
const load = name === undefined ? undefined : benches[name];
if (load === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await (
  await load()
)();
