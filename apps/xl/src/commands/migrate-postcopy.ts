/** `xl migrate-postcopy DOMAIN`: switches DOMAIN's running `xl migrate --postcopy` to post-copy now (as virsh migrate-postcopy). */
import { requestCommand } from './migration-control.js';

export const migratePostcopyCommand = requestCommand({
  name: 'migrate-postcopy',
  summary: 'Switch a running migration started with --postcopy to post-copy now',
  request: 'postcopy',
  refused: (name) => `cannot switch the migration of '${name}' to post-copy`,
  done: (name) => `Switching the migration of '${name}' to post-copy: the guest moves to the destination now`,
});
