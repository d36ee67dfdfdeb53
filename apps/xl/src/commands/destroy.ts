import type { CommandSpec } from '../command.js';
import { destroyDomain } from '../domain/destroy.js';
import { openDomain } from './common.js';

export const destroyCommand: CommandSpec = {
  name: 'destroy',
  summary: 'Terminate a domain immediately',
  usage: '<Domain>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const { store, domain } = await openDomain(args, io);
    await destroyDomain(store, domain);
    return 0;
  },
};
