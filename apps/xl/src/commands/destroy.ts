import type { CommandSpec } from '../command.js';
import { destroyDomain } from '../domain/destroy.js';
import { openDomain, warn } from './common.js';

export const destroyCommand: CommandSpec = {
  name: 'destroy',
  summary: 'Terminate a domain immediately',
  usage: '<Domain>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const { store, domain } = await openDomain(args, io);
    const refused = await destroyDomain(store, domain);
    if (refused !== undefined)
      warn(io, `domain '${domain.name}' (id ${domain.id}) removed without killing anything: ${refused}`);
    return 0;
  },
};
