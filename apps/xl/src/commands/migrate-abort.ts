/** `xl migrate-abort DOMAIN`: cancels DOMAIN's running `xl migrate` before its point of no return (as virsh domjobabort). */
import { requestCommand } from './migration-control.js';

export const migrateAbortCommand = requestCommand({
  name: 'migrate-abort',
  summary: 'Abort a running migration (before its point of no return)',
  request: 'abort',
  refused: (name) => `cannot abort the migration of '${name}'`,
  done: (name) => `Aborting the migration of '${name}': it rolls back and the domain stays on this host`,
});
