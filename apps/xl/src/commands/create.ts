import { randomBytes } from 'node:crypto';
import type { CommandSpec } from '../command.js';
import { withMacs } from '../config/vif-spec.js';
import { loadConfigFile } from '../config/load-config.js';
import { domainPaths } from '../store/domain-paths.js';
import { qemuCommand, startDomain } from '../domain/start.js';
import { chooseAccel, describeAccel } from '../domain/accel.js';
import { ACCEL_NOT_PROBED } from '../qemu/argv.js';
import { waitForQemuExit } from '../domain/destroy.js';
import { openSession, println, warn } from './common.js';

export const createCommand: CommandSpec = {
  name: 'create',
  summary: 'Create a domain from a config file',
  usage: '[options] <ConfigFile> [options] [vars]',
  options: {
    paused: { type: 'boolean', short: 'p' },
    foreground: { type: 'boolean', short: 'F' },
    'dry-run': { type: 'boolean', short: 'n' },
  },
  optionHelp: {
    paused: 'Leave the domain paused after it is created',
    foreground: 'Stay in the foreground until the domain exits (and clean it up)',
    'dry-run': 'Parse the config and print the QEMU command line; start nothing',
  },
  positionals: { min: 1 },
  async run(args, io) {
    const [file = '', ...overrides] = args.positionals;
    println(io.stderr, `Parsing config from ${file}`);
    const { config, warnings } = await loadConfigFile(file, overrides);
    for (const w of warnings) warn(io, w);
    const { store } = await openSession(args, io);
    const dryRun = args.values['dry-run'] === true;
    // A dry run starts nothing: `auto` uses a cached KVM verdict or says it was not probed.
    const accel = await chooseAccel(config, { cacheDir: store.cacheDir, env: io.env, spawn: !dryRun });
    println(io.stderr, describeAccel(accel));
    if (dryRun) {
      // The command line a real create would run on this host, from what is known without
      // running anything: device_model_override may name any program.
      const { binary, argv, ramUnprobed } = await qemuCommand(config, domainPaths('<state-dir>', 0), {
        paused: args.values.paused === true,
        cacheDir: store.cacheDir,
        ...(config.memoryBacking === 'shared' ? { ramFile: '/dev/shm/<ram-file>' } : {}),
        accel: accel?.accel ?? ACCEL_NOT_PROBED,
        spawn: false,
      });
      if (ramUnprobed)
        println(
          io.stderr,
          `qemu: ${binary} not probed in a dry run; -m has the RAM tail TCG needs before QEMU 9.0`,
        );
      println(io.stdout, JSON.stringify({ config, qemu: [binary, ...argv] }, null, 2));
      return 0;
    }
    // MACs are chosen once, here: they stay in the config through save/restore and migration.
    const withMac = { ...config, vifs: withMacs(config.vifs, randomBytes) };
    const record = await startDomain(store, withMac, {
      paused: args.values.paused === true,
      accel: accel?.accel ?? 'tcg',
    });
    println(
      io.stdout,
      `Started domain ${record.name} (id ${record.id})${record.status === 'paused' ? ', paused' : ''}`,
    );
    if (args.values.foreground === true) {
      await waitForQemuExit(record, 0, 500);
      await store.remove(record.id);
      println(io.stdout, `Domain ${record.name} (id ${record.id}) has exited`);
    }
    return 0;
  },
};
