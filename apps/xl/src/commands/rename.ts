import type { CommandSpec } from '../command.js';
import { renameDomain } from '../domain/control.js';
import { openDomain } from './common.js';

export const renameCommand: CommandSpec = {
  name: 'rename',
  summary: 'Rename a domain',
  usage: '<Domain> <NewDomainName>',
  options: {},
  positionals: { min: 2, max: 2 },
  async run(args, io) {
    const { store, domain } = await openDomain(args, io);
    await renameDomain(store, domain, args.positionals[1] ?? '');
    return 0;
  },
};
