/** xl's command table (as xl_cmdtable.c): help, usage and option parsing come from these rows. */
import type { CommandSpec } from './command.js';
import { createCommand } from './commands/create.js';
import { listCommand } from './commands/list.js';
import { destroyCommand } from './commands/destroy.js';
import { shutdownCommand } from './commands/shutdown.js';
import { pauseCommand, unpauseCommand } from './commands/pause.js';
import { renameCommand } from './commands/rename.js';
import { consoleCommand } from './commands/console.js';
import { infoCommand } from './commands/info.js';
import { streamDumpCommand } from './commands/stream-dump.js';
import { makeHelpCommand } from './commands/help.js';
import { migrateCommand } from './commands/migrate.js';
import { migrateReceiveCommand } from './commands/migrate-receive.js';
import { migrateStatusCommand } from './commands/migrate-status.js';
import { migrateAbortCommand } from './commands/migrate-abort.js';
import { migratePostcopyCommand } from './commands/migrate-postcopy.js';
import { saveCommand } from './commands/save.js';
import { restoreCommand } from './commands/restore.js';
import { upgradeCommand } from './commands/upgrade.js';

export const commandTable: CommandSpec[] = [
  createCommand,
  listCommand,
  destroyCommand,
  shutdownCommand,
  pauseCommand,
  unpauseCommand,
  renameCommand,
  consoleCommand,
  infoCommand,
  saveCommand,
  restoreCommand,
  migrateCommand,
  migrateReceiveCommand,
  migrateStatusCommand,
  migrateAbortCommand,
  migratePostcopyCommand,
  upgradeCommand,
  streamDumpCommand,
  makeHelpCommand(() => commandTable),
];
