/**
 * The sending end (`xl migrate`): the session for one migration, walked through the phases
 * (sender-phases.ts) and finished by the one completion path (sender-completion.ts).
 *
 * Until GO is written, every failure (refusal, receiver gone, bad data, Ctrl-C) rolls the
 * source back exactly as it was and stops the receiver, which removes what it created.
 * After GO the source is never resumed unless the receiver says it destroyed its copy.
 */
import type { Writable } from 'node:stream';
import type { QmpClient } from '@xlkit/qmp';
import type { DomainConfig } from '../config/domain-config.js';
import { assertNotMigratedAway } from '../domain/guard.js';
import { XlError } from '../errors.js';
import { RECEIVER_GRACE_MS } from '../link/deadline.js';
import type { MirrorFlags } from '../mirror/sender-side.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { listenControl, type ControlServer } from './control-server.js';
import { joinMirror } from './mirror-participant.js';
import { clearMigrationMark, markMigration } from './migration-mark.js';
import { ownName } from './names.js';
import { observeRam } from './observed-source.js';
import { walkPhases } from './phases.js';
import { receiverCommand } from './receiver-argv.js';
import { spawnReceiver } from './receiver-process.js';
import { completeSender, type MigrateResult } from './sender-completion.js';
import { RESUME_PHASES } from './resume-phases.js';
import { SENDER_PHASES } from './sender-phases.js';
import type { JoinSender, SenderSession, SenderSettings } from './sender-session.js';
import { qemuSource, type Peer, type QemuSourceOptions, type SourcePort } from './source-port.js';
import { Stages } from './stages.js';
import { StatusBoard } from './status-board.js';

export type { MigrateResult } from './sender-completion.js';

/**
 * Decorations applied from outside the flow (src/testing builds them for tests; a
 * normal run has none): the forward stream, the source QMP client, the source port.
 */
export interface SenderInstruments {
  output?: (forward: Writable) => Writable;
  qmp?: (qmp: QmpClient) => QmpClient;
  source?: (port: SourcePort, at: { signal: AbortSignal; event: (name: string) => void }) => SourcePort;
  /** The mirror's not-converging window (ms). */
  mirrorStallWindowMs?: number;
}

export interface MigrateOptions extends SenderSettings {
  /** -s SSHCMD; undefined = ssh. */
  sshCommand?: string;
  /** -C: send this config instead of the domain's own. */
  config?: DomainConfig;
  /** Receiver flags: -p leave paused, -e, -d. */
  receiverFlags: string[];
  /** The operation began before the handshake, in this phase (performance.now() then): `xl upgrade`'s prepare. */
  before?: { phase: string; startedAt: number };
  /** -q: mirror the local disks in phase 2 (apps/xl/src/mirror). */
  mirror?: MirrorFlags;
  env: NodeJS.ProcessEnv;
  instruments?: SenderInstruments;
  /**
   * `xl upgrade`: the receiving side runs in this process (upgrade.ts) and is reached through
   * `connect` instead of a receiver command; the source port's upgrade options.
   */
  local?: {
    connect: () => Peer;
    source: Pick<QemuSourceOptions, 'capabilities' | 'handsOverRamFile' | 'info'>;
  };
}

/** Walks a sending session through its phases and completes it (the one path, real or fake hosts). */
export async function runSender(session: SenderSession): Promise<MigrateResult> {
  const steps = session.settings.resume ? RESUME_PHASES : SENDER_PHASES;
  return completeSender(session, await walkPhases(session, steps, (p) => session.stages.start(p)));
}

export async function migrateDomain(
  store: DomainStore,
  domain: DomainRecord,
  o: MigrateOptions,
): Promise<MigrateResult> {
  // --resume picks up the copy a broken post-copy left here as NAME--migratedaway (only that).
  if (o.resume !== true) assertNotMigratedAway(domain, 'migrate');
  else if (domain.status !== 'migrated-away') {
    throw new XlError(
      'XL_MIGRATION',
      `domain '${domain.name}' has no paused post-copy to resume (it is ${domain.status})`,
    );
  }
  const name = ownName(domain.name);
  const ins = o.instruments ?? {};
  const stages = new Stages(o.progress, o.before);
  const failure = new AbortController();
  const real = qemuSource(store, domain, {
    connect:
      o.local?.connect ??
      (() => {
        const r = spawnReceiver(receiverCommand(o.sshCommand, o.host, o.receiverFlags), o.stderr, o.env);
        return {
          input: r.stdout,
          output: ins.output ? ins.output(r.stdin) : r.stdin,
          stop: () => r.stop(RECEIVER_GRACE_MS),
          mute: () => r.mute(),
        };
      }),
    ...o.local?.source,
    ...(ins.qmp ? { wrapQmp: ins.qmp } : {}),
    name,
  });
  // The live status `xl migrate-status` reads (control-server.ts): QEMU's RAM figures, the progress.
  const board = new StatusBoard({ domain: name, host: o.host });
  const source = observeRam(
    ins.source ? ins.source(real, { signal: failure.signal, event: (name) => stages.event(name) }) : real,
    (p) => board.ram(p.migration),
  );
  const join: JoinSender[] = o.mirror
    ? [
        joinMirror(o.mirror, {
          ...(ins.mirrorStallWindowMs === undefined ? {} : { stallWindowMs: ins.mirrorStallWindowMs }),
        }),
      ]
    : [];
  const session: SenderSession = {
    settings: { ...o, hostIsCommand: o.sshCommand === '' },
    config: { ...(o.config ?? domain.config), name, uuid: domain.uuid },
    source,
    stages,
    join,
    failure,
    before: { name: domain.name, status: domain.status, running: domain.status === 'running' },
    participants: [],
    postcopyRequested: false,
    // Resuming: the source has been past its point of no return since post-copy began.
    postcopyActive: o.resume === true,
    goSent: false,
    marks: {},
    taken: false,
  };
  // Ctrl-C aborts the walk until GO (or post-copy) and is ignored after it.
  const onInterrupt = () => {
    if (!session.goSent && !session.postcopyActive)
      failure.abort(new XlError('XL_INTERRUPTED', 'interrupted'));
  };
  o.signal.addEventListener('abort', onInterrupt, { once: true });
  if (o.signal.aborted) onInterrupt();
  board.follow(session);
  const unobserve = o.progress.observe(board);
  let control: ControlServer | undefined;
  // --resume: the copy is past its point of no return already (its mark says so from the start).
  await markMigration(store, domain, o.host, o.resume === true, o.upgrade ? 'upgrade' : undefined);
  try {
    control = await listenControl(store.paths(domain.id).migrationControl, board, session);
    return await runSender(session);
  } finally {
    o.signal.removeEventListener('abort', onInterrupt);
    unobserve();
    await control?.close();
    await clearMigrationMark(store, domain.id);
  }
}
