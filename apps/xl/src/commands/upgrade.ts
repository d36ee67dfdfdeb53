/**
 * `xl upgrade [--device-model PATH] [--json] (--all | DOMAIN...)`: live-upgrade running
 * domains to another QEMU binary on this host (migrate/upgrade.ts). Several domains upgrade
 * in parallel, each on its own; one failing does not stop the others.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { CommandSpec } from '../command.js';
import { DEFAULT_QEMU } from '../config/domain-config.js';
import { resolveDomain } from '../domain/resolve.js';
import { errorMessage, UsageError, XlError } from '../errors.js';
import { upgradeDomain, type UpgradeResult } from '../migrate/upgrade.js';
import { formatBytes } from '../progress/format.js';
import { ProgressReporter } from '../progress/reporter.js';
import type { DomainRecord } from '../store/domain-record.js';
import { parseFaults } from '../testing/faults.js';
import { senderInstruments, upgradeDestination } from '../testing/instruments.js';
import { withInterrupts } from './interrupt.js';
import { openSession, println } from './common.js';

/** The system QEMU's absolute path (PATH lookup), as the default new binary. */
async function systemQemu(env: NodeJS.ProcessEnv): Promise<string> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, DEFAULT_QEMU);
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new XlError(
    'XL_UPGRADE_REFUSED',
    `no ${DEFAULT_QEMU} on PATH to upgrade to; give --device-model PATH`,
  );
}

function resultLines(r: UpgradeResult, previous: DomainRecord): string[] {
  const ram = r.sharedRam ? 'RAM shared in place' : 'RAM copied';
  const phases = Object.entries(r.phases)
    .map(([k, s]) => `${k} ${s.toFixed(2)} s`)
    .join(', ');
  return [
    `Upgrade successful: domain ${r.name} now runs on QEMU ${r.qemu.version} (${r.qemu.binary}, pid ${r.qemu.pid}, id ${r.id}; was QEMU ${previous.qemu?.version ?? '?'}, id ${previous.id})`,
    `  ${phases}; total ${r.totalSeconds.toFixed(2)} s; ${ram}; stream ${formatBytes(r.ramBytes)}; downtime ${r.downtimeMs ?? '?'} ms (QEMU)${r.pausedMs === undefined ? '' : `, guest paused ${r.pausedMs} ms`}`,
  ];
}

export const upgradeCommand: CommandSpec = {
  name: 'upgrade',
  summary: "Live-upgrade running domains' QEMU to another binary on this host",
  usage: '[options] (--all | <Domain>...)',
  options: {
    'device-model': { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  optionHelp: {
    'device-model': "The new QEMU binary (default: the system's qemu-system-x86_64)",
    all: 'Upgrade every running or paused domain, all at once',
    json: 'Print progress and the results as NDJSON events on stdout',
  },
  optionValues: { 'device-model': 'QEMU' },
  positionals: { min: 0 },
  async run(args, io) {
    const v = args.values;
    const all = v.all === true;
    if (all === args.positionals.length > 0) throw new UsageError('give --all or one or more domains');
    const dm = typeof v['device-model'] === 'string' ? v['device-model'] : undefined;
    if (dm !== undefined && !path.isAbsolute(dm))
      throw new UsageError(`--device-model expects an absolute path, got '${dm}'`);
    const binary = dm ?? (await systemQemu(io.env));
    const { store, live } = await openSession(args, io);
    const domains = all
      ? live.filter((d) => d.status === 'running' || d.status === 'paused')
      : await Promise.all(args.positionals.map((p) => resolveDomain(store, p)));
    const json = v.json === true;
    const several = domains.length > 1;
    const faults = parseFaults(io.env);
    const destination = upgradeDestination(faults);
    const instruments = senderInstruments(faults);
    const outcomes = await withInterrupts((signal) =>
      Promise.allSettled(
        domains.map(async (domain) => {
          // Several at once: no shared status line on a terminal; JSON events name their domain.
          const progress = several
            ? new ProgressReporter(io, { mode: json ? 'json' : 'quiet', operation: `upgrade ${domain.name}` })
            : ProgressReporter.forCommand(io, json, 'upgrade');
          try {
            const r = await upgradeDomain(store, domain, {
              binary,
              deviceModel: dm,
              progress,
              stderr: io.stderr,
              signal,
              env: io.env,
              ...(destination ? { destination } : {}),
              ...(instruments ? { instruments } : {}),
            });
            progress.summary({
              result: 'ok',
              domain: r.name,
              id: r.id,
              qemu: r.qemu,
              sharedRam: r.sharedRam,
              phases: r.phases,
              seconds: r.totalSeconds,
              streamBytes: r.ramBytes,
              ...(r.downtimeMs === undefined ? {} : { downtimeMs: r.downtimeMs }),
              ...(r.pausedMs === undefined ? {} : { pausedMs: r.pausedMs }),
              ...(r.steps === undefined ? {} : { steps: r.steps }),
            });
            if (!json) for (const line of resultLines(r, domain)) println(io.stdout, line);
          } catch (err) {
            progress.clear();
            progress.summary({ result: 'failed', domain: domain.name, error: errorMessage(err) });
            throw err;
          }
        }),
      ),
    );
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    if (failed.length === 0) return 0;
    if (failed.length === 1 && !several) throw failed[0];
    for (const err of failed) println(io.stderr, `xl: ${errorMessage(err)}`);
    throw new XlError('XL_MIGRATION', `${failed.length} of ${domains.length} upgrades failed`);
  },
};
