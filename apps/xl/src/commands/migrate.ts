/**
 * `xl migrate [-s SSHCMD] [-C CONFIG] [-e] [-p] [-D] [--debug] [--json] [--bandwidth MiB/s]
 * [--max-downtime MS] [--no-throttle] DOMAIN HOST`: live migration over a pipe to `xl migrate-receive`
 * on HOST (see migrate/receiver-argv.ts for how the receiver is started, link/PROTOCOL.md for the
 * bytes). A migration that stops converging climbs the convergence ladder
 * (migrate/convergence-ladder.ts).
 */
import type { CommandArgs, CommandIo, CommandSpec } from '../command.js';
import { loadConfigFile } from '../config/load-config.js';
import type { DomainConfig } from '../config/domain-config.js';
import { UsageError, XlError } from '../errors.js';
import { migratedAwayName } from '../migrate/names.js';
import { checkedReceiverCommand } from '../migrate/receiver-argv.js';
import { formatBytes } from '../progress/format.js';
import { ProgressReporter } from '../progress/reporter.js';
import { withInterrupts } from './interrupt.js';
import { TIMELINE_HELP, TimelineOption } from './timeline-option.js';
import { migrateDomain } from '../migrate/send-migration.js';
import type { MirrorFlags } from '../mirror/sender-side.js';
import { PLAIN_DIR } from '../mirror/target-root.js';
import { openDomain, openSession, println, warn } from './common.js';
import { parseFaults } from '../testing/faults.js';
import { senderInstruments } from '../testing/instruments.js';
import { parseBandwidth, parseDowntime, parsePostcopy } from './option-values.js';

/** --transport: tunnel (the default: everything inside the pipe) or direct (QEMU to QEMU, RAM and disks). */
function parseTransport(v: Record<string, unknown>): 'tunnel' | 'direct' {
  const transport = v.transport ?? 'tunnel';
  if (transport !== 'tunnel' && transport !== 'direct')
    throw new UsageError(`--transport expects tunnel or direct, got '${String(transport)}'`);
  return transport;
}

function mirrorFlags(v: Record<string, unknown>): MirrorFlags | undefined {
  const transport = parseTransport(v);
  if (v['mirror-disks'] !== true) {
    for (const k of ['target-dir', 'sync-writes', 'reuse-target'])
      if (v[k] !== undefined) throw new UsageError(`--${k} needs -q`);
    return undefined;
  }
  const flags: MirrorFlags = {
    transport,
    syncWrites: v['sync-writes'] === true,
    reuseTarget: v['reuse-target'] === true,
  };
  if (typeof v['target-dir'] === 'string') {
    // It reaches the receiver's command line (through ssh's remote shell): plain characters only.
    if (!PLAIN_DIR.test(v['target-dir']))
      throw new UsageError(
        `--target-dir must be an absolute path on the destination made of A-Z a-z 0-9 . _ + - /, got '${v['target-dir']}'`,
      );
    flags.targetDir = v['target-dir'];
  }
  return flags;
}

/** --resume: DOMAIN is the name the migration left here as NAME--migratedaway (or that name, or the id). */
async function openPausedMigration(args: CommandArgs, io: CommandIo) {
  const session = await openSession(args, io);
  const arg = args.positionals[0] ?? '';
  const domain = session.live.find(
    (d) => d.name === migratedAwayName(arg) || d.name === arg || String(d.id) === arg,
  );
  if (domain === undefined)
    throw new XlError(
      'XL_DOMAIN_NOT_FOUND',
      `no domain '${arg}' (nor '${migratedAwayName(arg)}') on this host`,
    );
  return { ...session, domain };
}

export const migrateCommand: CommandSpec = {
  name: 'migrate',
  summary: 'Migrate a domain to another host',
  usage: '[options] <Domain> <Host>',
  options: {
    'ssh-command': { type: 'string', short: 's' },
    config: { type: 'string', short: 'C' },
    'no-monitor': { type: 'boolean', short: 'e' },
    paused: { type: 'boolean', short: 'p' },
    'preserve-domid': { type: 'boolean', short: 'D' },
    foreground: { type: 'boolean', short: 'F' },
    debug: { type: 'boolean' },
    live: { type: 'boolean' },
    json: { type: 'boolean' },
    timeline: { type: 'string' },
    bandwidth: { type: 'string' },
    'max-downtime': { type: 'string' },
    'no-throttle': { type: 'boolean' },
    'mirror-disks': { type: 'boolean', short: 'q' },
    'target-dir': { type: 'string' },
    transport: { type: 'string' },
    'sync-writes': { type: 'boolean' },
    'reuse-target': { type: 'boolean' },
    postcopy: { type: 'boolean' },
    resume: { type: 'boolean' },
    'postcopy-after': { type: 'string' },
    'postcopy-after-time': { type: 'string' },
  },
  optionHelp: {
    'ssh-command':
      "Reach <Host> with this shell command instead of ssh (run as: sh -c 'exec SSHCMD \"$@\"' sh HOST xl migrate-receive ..., as xl does); '' runs <Host> itself as the receiver command",
    config: "Send this config file instead of the domain's own",
    'no-monitor': 'Passed to the receiver (-e)',
    paused: 'Leave the domain paused on the destination',
    'preserve-domid': 'Accepted for xl compatibility; ids are per host here',
    foreground: 'Accepted for xl compatibility',
    debug: 'The receiver logs each step (forwarded to stderr)',
    live: 'Ignored (migration is always live), as in xl',
    json: 'Print progress and the result as NDJSON events on stdout',
    timeline: TIMELINE_HELP,
    bandwidth: 'Limit the RAM stream to this many MiB/s (default: unlimited)',
    'max-downtime':
      "QEMU's downtime limit in milliseconds, never raised (default: QEMU's 300, which a migration that does not converge may double up to 1000)",
    'no-throttle':
      'A migration that does not converge is not helped by throttling the vCPUs (auto-converge): after the downtime limit it switches to post-copy (with --postcopy) or gives up',
    'mirror-disks':
      'Copy the local disks too (phase 2: live mirror, then the RAM): for disks the destination cannot see',
    'target-dir':
      'With -q: create the disk targets in this directory on the destination (default: the same paths)',
    transport:
      "'tunnel' (default: RAM, and disks with -q, inside the migration pipe, verified record by record) or 'direct' (QEMU to QEMU: RAM over TCP or a unix socket, disks by NBD; xl only orchestrates)",
    'sync-writes':
      'With -q: write-blocking mirror (every guest write reaches both sides; always converges, slower writes)',
    'reuse-target': 'With -q: overwrite existing targets instead of refusing',
    postcopy:
      "Allow post-copy: the guest moves to the destination first and its remaining pages follow on demand; switch with the options below or 'xl migrate-postcopy'",
    resume:
      "Complete a post-copy that a broken link paused (both QEMUs in postcopy-paused): reconnects the two QEMUs over a new pipe; DOMAIN is the domain's own name",
    'postcopy-after': 'With --postcopy: switch to post-copy after this many complete pre-copy passes',
    'postcopy-after-time': 'With --postcopy: switch to post-copy after this many seconds of pre-copy',
  },
  optionValues: {
    'ssh-command': 'SSHCMD',
    timeline: 'FILE',
    config: 'CONFIG',
    bandwidth: 'MIB/S',
    'max-downtime': 'MS',
    'target-dir': 'DIR',
    transport: 'tunnel|direct',
    'postcopy-after': 'PASSES',
    'postcopy-after-time': 'SECONDS',
  },
  positionals: { min: 2, max: 2 },
  async run(args, io) {
    const [, host = ''] = args.positionals;
    const v = args.values;
    const maxBandwidth = parseBandwidth(v.bandwidth);
    const maxDowntimeMs = parseDowntime(v['max-downtime']);
    if (v['preserve-domid'] === true) warn(io, '-D is ignored: domain ids are per host');
    const receiverFlags = [
      ...(v.paused === true ? ['-p'] : []),
      ...(v['no-monitor'] === true ? ['-e'] : []),
      ...(v.debug === true ? ['-d'] : []),
    ];
    const sshCommand = typeof v['ssh-command'] === 'string' ? v['ssh-command'] : undefined;
    // Every usage error (a bad -s, a HOST like an option, clashing flags) comes before anything
    // is read or touched: the config file, the domain.
    checkedReceiverCommand(sshCommand, host, receiverFlags);
    const postcopy = parsePostcopy(v);
    const mirror = mirrorFlags(v);
    // The receiver confines -q targets to its --target-dir: ours, when we give one.
    if (mirror?.targetDir !== undefined) receiverFlags.push('--target-dir', mirror.targetDir);
    if (v.resume === true) {
      for (const k of ['mirror-disks', 'postcopy', 'config', 'paused']) {
        if (v[k] !== undefined)
          throw new UsageError(`--resume takes no --${k}: it completes the migration already under way`);
      }
    }
    let config: DomainConfig | undefined;
    if (typeof v.config === 'string') {
      const built = await loadConfigFile(v.config);
      for (const w of built.warnings) warn(io, w);
      config = built.config;
    }
    const { store, domain } =
      v.resume === true ? await openPausedMigration(args, io) : await openDomain(args, io);
    const progress = ProgressReporter.forCommand(io, v.json === true, 'migrate');
    const timeline = TimelineOption.start(v.timeline, progress);
    // Test-only decorations (src/testing), when the environment asks for any.
    const instruments = senderInstruments(parseFaults(io.env));
    try {
      const r = await withInterrupts((signal) =>
        migrateDomain(store, domain, {
          host,
          sshCommand,
          config,
          receiverFlags,
          paused: v.paused === true,
          maxBandwidth,
          maxDowntimeMs,
          throttle: v['no-throttle'] !== true,
          mirror,
          ramTransport: parseTransport(v) === 'direct' ? 'direct' : 'relay',
          ...(postcopy ? { postcopy } : {}),
          ...(v.resume === true ? { resume: true } : {}),
          progress,
          stderr: io.stderr,
          env: io.env,
          signal,
          ...(instruments === undefined ? {} : { instruments }),
        }),
      );
      if (r.stoppedAtMs !== undefined) {
        const ms = r.pausedMs ?? r.downtimeMs;
        timeline?.markPause(
          r.pausedMs !== undefined ? `guest paused ${r.pausedMs} ms` : `downtime ${r.downtimeMs ?? '?'} ms`,
          { wallMs: r.stoppedAtMs },
          ms === undefined ? 0 : ms / 1000,
        );
      }
      await timeline?.write(io, `xl migrate ${r.name} to ${host}: ${r.totalSeconds.toFixed(2)} s`);
      progress.summary({
        result: 'ok',
        domain: r.name,
        host: r.host,
        ...(r.hostname === undefined ? {} : { hostname: r.hostname }),
        runsOn: r.runsOn,
        phases: r.phases,
        seconds: r.totalSeconds,
        ramBytes: r.ramBytes,
        chunks: r.chunks,
        ...(r.downtimeMs === undefined ? {} : { downtimeMs: r.downtimeMs }),
        ...(r.pausedMs === undefined ? {} : { pausedMs: r.pausedMs }),
      });
      if (v.json !== true) {
        const phases = Object.entries(r.phases)
          .map(([k, s]) => `${k} ${s.toFixed(2)} s`)
          .join(', ');
        println(io.stdout, `Migration successful: domain ${r.name} now runs on ${r.runsOn}`);
        println(
          io.stdout,
          `  ${phases}; total ${r.totalSeconds.toFixed(2)} s; RAM stream ${formatBytes(r.ramBytes)}; downtime ${r.downtimeMs ?? '?'} ms (QEMU)${r.pausedMs === undefined ? '' : `, guest paused ${r.pausedMs} ms`}`,
        );
      }
      return 0;
    } catch (err) {
      progress.clear();
      await timeline?.write(io, `xl migrate ${domain.name} to ${host}: failed`);
      progress.summary({
        result: 'failed',
        domain: domain.name,
        host,
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  },
};
