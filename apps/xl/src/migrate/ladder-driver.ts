/**
 * The convergence ladder's effects on the source QEMU (the decisions: convergence-ladder.ts).
 * The QMP calls run one after the other, never holding up the progress samples; a failed call
 * fails the migration (it rolls back).
 *
 * Throttling is QEMU's `auto-converge`, a capability, and QEMU 7.2 refuses every
 * `migrate-set-capabilities` while a migration runs ("There's a migration process in
 * progress": qmp_migrate_set_capabilities() returns QERR_MIGRATION_ACTIVE when
 * migration_is_running()); parameters may change at any time. So the transport switches
 * auto-converge on with every other capability before `migrate` (`autoConverge`: every
 * migration sets it, on or off, so a rolled-back one leaves nothing armed for the next), and
 * `arm()` caps the throttle at 1% (`max-cpu-throttle` 1, QEMU's least): dormant, QEMU's own
 * trigger can take at most 1% of the vCPUs' time. The throttle rung
 * lifts the cap and sets a steeper ramp; QEMU raises the throttle at every other pass while
 * the guest still dirties more than half of what was sent, and stops it when the migration
 * ends, however it ends. With --no-throttle, auto-converge stays off.
 */
import {
  migrateSetParameters,
  type MigrationParameters,
  type MigrationProgress,
  type QmpClient,
} from '@xlkit/qmp';
import { errorMessage, XlError } from '../errors.js';
import {
  ConvergenceLadder,
  ladderPolicy,
  type LadderAction,
  type LadderPolicy,
} from './convergence-ladder.js';
import type { SenderSession } from './sender-session.js';

/** Before the throttle rung: auto-converge on, its throttle held at 1%. */
export const THROTTLE_DORMANT: MigrationParameters = {
  'cpu-throttle-initial': 1,
  'cpu-throttle-increment': 1,
  'max-cpu-throttle': 1,
};

/** The throttle rung: stronger than QEMU's 20 + 10 per step, as the migration is known stuck. */
export const THROTTLE_ON: MigrationParameters = {
  'cpu-throttle-initial': 50,
  'cpu-throttle-increment': 25,
  'max-cpu-throttle': 99,
};

export interface LadderHost {
  qmp: QmpClient;
  /** An NDJSON event of the RAM phase. */
  event(name: string, data: Record<string, unknown>): void;
  /** Switch to post-copy at the next sample (the transport's post-copy hooks do it). */
  requestPostcopy(): void;
  /** Fail the migration: it rolls back. */
  abort(err: XlError): void;
  /** Whether the migration may still be changed (false once GO or post-copy, or a failure). */
  live(): boolean;
}

export class LadderDriver {
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    readonly ladder: ConvergenceLadder,
    private readonly host: LadderHost,
  ) {}

  /** The setup `arm()` issued; the RAM step awaits it before the transport's `migrate`. */
  armed: Promise<void> = Promise.resolve();

  /** Whether the transport switches QEMU's auto-converge on for this migration. */
  get autoConverge(): boolean {
    return this.ladder.policy.throttle;
  }

  /** Before `migrate`: the starting downtime limit, and the throttle held dormant. */
  arm(): void {
    const setup = migrateSetParameters(this.host.qmp, armParameters(this.ladder.policy));
    this.armed = setup.then(() => undefined);
    // Its failure also reaches the queue (the migration aborts); whoever awaits `armed` sees it too.
    this.armed.catch(() => undefined);
    this.#enqueue('setup', () => setup);
  }

  /** Every progress sample (cheap when nothing is due). */
  sample(m: MigrationProgress): void {
    if (this.#stopped || !this.host.live()) return;
    const a = this.ladder.sample(m);
    if (a === undefined) return;
    this.host.event('converge-step', eventData(a));
    switch (a.step) {
      case 'downtime':
        this.#enqueue('downtime', () =>
          migrateSetParameters(this.host.qmp, { 'downtime-limit': a.downtimeMs }),
        );
        break;
      case 'throttle':
        this.#enqueue('throttle', () => migrateSetParameters(this.host.qmp, THROTTLE_ON));
        break;
      case 'postcopy':
        this.host.requestPostcopy();
        break;
      case 'abort':
        this.host.abort(new XlError('XL_MIGRATION', a.message));
        break;
    }
  }

  /** The RAM phase is over: nothing more is applied, no failure reported. */
  stop(): void {
    this.#stopped = true;
  }

  /** Settles once every effect asked for so far has run (tests). */
  settled(): Promise<void> {
    return this.#queue;
  }

  #enqueue(what: string, effect: () => Promise<unknown>): void {
    this.#queue = this.#queue
      .then(async () => {
        await effect();
      })
      .catch((err: unknown) => {
        if (this.#stopped || !this.host.live()) return;
        this.host.abort(
          new XlError('XL_MIGRATION', `the convergence ladder's ${what} step failed: ${errorMessage(err)}`, {
            cause: err,
          }),
        );
      });
  }
}

/** What `arm()` sets before `migrate`: the starting downtime limit, the throttle held dormant. */
export function armParameters(p: LadderPolicy): MigrationParameters {
  return { 'downtime-limit': p.startDowntimeMs, ...(p.throttle ? THROTTLE_DORMANT : {}) };
}

/**
 * The ladder's policy for this migration. None without a QMP connection (fake hosts), and none
 * for `--resume`: a post-copy has no pre-copy passes left, and QEMU, in postcopy-paused,
 * refuses capabilities.
 */
export function ladderPolicyOf(s: SenderSession): LadderPolicy | undefined {
  if (s.source.qmp === undefined || s.settings.resume === true) return undefined;
  return ladderPolicy({
    ...(s.settings.maxDowntimeMs === undefined ? {} : { maxDowntimeMs: s.settings.maxDowntimeMs }),
    throttle: s.settings.throttle !== false,
    postcopy: s.settings.postcopy !== undefined,
  });
}

/**
 * The ladder of a migration's RAM phase (call it before the transport's `migrate`), armed at
 * once unless `armed` says its parameters were set already (in bootstrap, sender-phases.ts).
 */
export function startLadder(s: SenderSession, o: { armed?: boolean } = {}): LadderDriver | undefined {
  const qmp = s.source.qmp;
  const policy = ladderPolicyOf(s);
  if (qmp === undefined || policy === undefined) return undefined;
  const driver = new LadderDriver(new ConvergenceLadder(policy), {
    qmp,
    event: (name, data) => s.stages.event(name, data),
    requestPostcopy: () => {
      s.postcopyRequested = true;
    },
    abort: (err) => s.failure.abort(err),
    live: () => !s.goSent && !s.postcopyActive && !s.failure.signal.aborted,
  });
  if (o.armed !== true) driver.arm();
  return driver;
}

function eventData(a: LadderAction): Record<string, unknown> {
  const f = a.figures;
  return {
    step: a.step,
    ...(a.step === 'downtime' ? { downtimeMs: a.downtimeMs } : {}),
    ...(a.step === 'throttle' ? { throttle: THROTTLE_ON } : {}),
    ...(a.step === 'abort' ? { message: a.message } : {}),
    reason: f.reason,
    pass: f.pass,
    passes: f.passes,
    remaining: f.remaining,
    lowest: f.lowest,
    lowestPass: f.lowestPass,
    dirtyRate: Math.round(f.dirtyRate),
    linkRate: Math.round(f.linkRate),
    seconds: f.seconds,
    ...(f.throttlePercent === undefined ? {} : { throttlePercent: f.throttlePercent }),
  };
}
