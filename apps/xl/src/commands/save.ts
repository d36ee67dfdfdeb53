/** `xl save [-c] [-p] DOMAIN FILE [CONFIG]`: the domain's RAM and device state into FILE. */
import path from 'node:path';
import type { CommandSpec } from '../command.js';
import { loadConfigFile } from '../config/load-config.js';
import type { DomainConfig } from '../config/domain-config.js';
import { UsageError } from '../errors.js';
import { formatBytes, formatRate } from '../progress/format.js';
import { ProgressReporter } from '../progress/reporter.js';
import { parseBandwidth } from './option-values.js';
import { withInterrupts } from './interrupt.js';
import { TIMELINE_HELP, TimelineOption } from './timeline-option.js';
import { saveDomain, type AfterSave } from '../ram/save-domain.js';
import { openDomain, println, warn } from './common.js';

export const saveCommand: CommandSpec = {
  name: 'save',
  summary: 'Save a domain state to restore later',
  usage: '[options] <Domain> <CheckpointFile> [<ConfigFile>]',
  options: {
    checkpoint: { type: 'boolean', short: 'c' },
    paused: { type: 'boolean', short: 'p' },
    json: { type: 'boolean' },
    bandwidth: { type: 'string' },
    timeline: { type: 'string' },
  },
  optionHelp: {
    checkpoint: 'Leave the domain running after saving it',
    paused: 'Leave the domain paused after saving it',
    json: 'Print progress and the result as NDJSON events on stdout',
    bandwidth: 'Limit the save to this many MiB/s (default: unlimited)',
    timeline: TIMELINE_HELP,
  },
  optionValues: { bandwidth: 'MIB/S', timeline: 'FILE' },
  positionals: { min: 2, max: 3 },
  async run(args, io) {
    const [, file = '', cfgFile] = args.positionals;
    const { checkpoint, paused, json } = args.values;
    if (checkpoint === true && paused === true) throw new UsageError('-c and -p exclude each other');
    const maxBandwidth = parseBandwidth(args.values.bandwidth);
    const after: AfterSave = checkpoint === true ? 'running' : paused === true ? 'paused' : 'destroy';
    let config: DomainConfig | undefined;
    if (cfgFile !== undefined) {
      const built = await loadConfigFile(cfgFile);
      for (const w of built.warnings) warn(io, w);
      config = built.config;
    }
    const { store, domain } = await openDomain(args, io);
    const progress = ProgressReporter.forCommand(io, json === true, 'save');
    const target = path.resolve(file);
    const timeline = TimelineOption.start(args.values.timeline, progress);
    try {
      const r = await withInterrupts((signal) =>
        saveDomain(store, domain, { file: target, config, after, maxBandwidth, signal, progress }),
      );
      const rate = r.ramBytes / r.seconds;
      if (r.wasRunning) timeline?.markPause(`guest paused (then ${r.domainState})`, 'header');
      await timeline?.write(
        io,
        `xl save ${domain.name}: ${formatBytes(r.fileBytes)} in ${r.seconds.toFixed(2)} s`,
      );
      progress.summary({
        result: 'ok',
        domain: domain.name,
        id: domain.id,
        file: target,
        bytes: r.fileBytes,
        ramBytes: r.ramBytes,
        seconds: Math.round(r.seconds * 1000) / 1000,
        rate: Math.round(rate),
        digest: r.digest,
        domainState: r.domainState,
        ...(r.replacedFreedBy === undefined ? {} : { replacedFreedBy: r.replacedFreedBy }),
      });
      if (json !== true) {
        const where =
          r.domainState === 'destroyed'
            ? 'the domain was destroyed'
            : `domain ${domain.name} (id ${domain.id}) is ${r.domainState}`;
        println(
          io.stdout,
          `Saved domain ${domain.name} to ${file}: ${formatBytes(r.fileBytes)} in ${r.seconds.toFixed(1)} s (${formatRate(rate)}); ${where}`,
        );
      }
    } catch (err) {
      progress.clear();
      await timeline?.write(io, `xl save ${domain.name}: failed`);
      progress.summary({
        result: 'failed',
        domain: domain.name,
        file: target,
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
    return 0;
  },
};
