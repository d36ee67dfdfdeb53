/** `xl restore [-p] [-e] [CONFIG] FILE`: a saved domain back to life, with a new id. */
import path from 'node:path';
import type { CommandSpec } from '../command.js';
import { loadConfigFile } from '../config/load-config.js';
import type { DomainConfig } from '../config/domain-config.js';
import { formatBytes, formatRate } from '../progress/format.js';
import { ProgressReporter } from '../progress/reporter.js';
import { withInterrupts } from './interrupt.js';
import { TIMELINE_HELP, TimelineOption } from './timeline-option.js';
import { restoreDomain } from '../ram/restore-domain.js';
import { openSession, println, warn } from './common.js';

export const restoreCommand: CommandSpec = {
  name: 'restore',
  summary: 'Restore a domain from a saved state',
  usage: '[options] [<ConfigFile>] <CheckpointFile>',
  options: {
    paused: { type: 'boolean', short: 'p' },
    'no-wait': { type: 'boolean', short: 'e' },
    json: { type: 'boolean' },
    timeline: { type: 'string' },
  },
  optionHelp: {
    paused: 'Do not unpause the domain after restoring it',
    'no-wait': 'Do not wait in the background for the domain (xl compatibility; xlkit never does)',
    json: 'Print progress and the result as NDJSON events on stdout',
    timeline: TIMELINE_HELP,
  },
  optionValues: { timeline: 'FILE' },
  positionals: { min: 1, max: 2 },
  async run(args, io) {
    const [a = '', b] = args.positionals;
    const [cfgFile, file] = b === undefined ? [undefined, a] : [a, b];
    const json = args.values.json === true;
    const paused = args.values.paused === true;
    let config: DomainConfig | undefined;
    if (cfgFile !== undefined) {
      const built = await loadConfigFile(cfgFile);
      for (const w of built.warnings) warn(io, w);
      config = built.config;
    }
    const { store } = await openSession(args, io);
    const progress = ProgressReporter.forCommand(io, json, 'restore');
    const source = path.resolve(file);
    const timeline = TimelineOption.start(args.values.timeline, progress);
    try {
      const r = await withInterrupts((signal) =>
        restoreDomain(store, { file: source, config, paused, signal, progress }),
      );
      for (const w of r.warnings) warn(io, w);
      const rate = r.fileBytes / r.seconds;
      const state = paused ? 'paused' : 'running';
      await timeline?.write(
        io,
        `xl restore ${r.record.name}: ${formatBytes(r.fileBytes)} in ${r.seconds.toFixed(2)} s, ${state}`,
      );
      progress.summary({
        result: 'ok',
        domain: r.record.name,
        id: r.record.id,
        uuid: r.record.uuid,
        file: source,
        bytes: r.fileBytes,
        ramBytes: r.ramBytes,
        seconds: Math.round(r.seconds * 1000) / 1000,
        rate: Math.round(rate),
        digest: r.digest,
        domainState: state,
      });
      if (!json) {
        println(
          io.stdout,
          `Restored domain ${r.record.name} (id ${r.record.id}) from ${file}: ${formatBytes(r.fileBytes)} in ${r.seconds.toFixed(1)} s (${formatRate(rate)}); ${state}`,
        );
      }
    } catch (err) {
      await timeline?.write(io, `xl restore ${path.basename(source)}: failed`);
      progress.summary({
        result: 'failed',
        file: source,
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
    return 0;
  },
};
