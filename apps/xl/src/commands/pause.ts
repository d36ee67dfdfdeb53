import type { CommandSpec } from '../command.js';
import { pauseDomain, unpauseDomain } from '../domain/control.js';
import { openDomain } from './common.js';

export const pauseCommand: CommandSpec = {
  name: 'pause',
  summary: 'Pause execution of a domain',
  usage: '<Domain>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const { store, domain } = await openDomain(args, io);
    await pauseDomain(store, domain);
    return 0;
  },
};

export const unpauseCommand: CommandSpec = {
  name: 'unpause',
  summary: 'Unpause a paused domain',
  usage: '<Domain>',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(args, io) {
    const { store, domain } = await openDomain(args, io);
    await unpauseDomain(store, domain);
    return 0;
  },
};
