import type { CommandSpec } from '../command.js';
import { shutdownDomain } from '../domain/control.js';
import { openDomain } from './common.js';

export const shutdownCommand: CommandSpec = {
  name: 'shutdown',
  summary: 'Issue a clean shutdown to a domain (ACPI power button)',
  usage: '[options] <Domain>',
  options: { wait: { type: 'boolean', short: 'w' } },
  optionHelp: { wait: 'Wait for the domain to complete shutdown before returning' },
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const { store, domain } = await openDomain(args, io);
    await shutdownDomain(store, domain, { wait: args.values.wait === true });
    return 0;
  },
};
