/**
 * The convergence ladder: a pre-copy migration that stops converging is helped one rung at a
 * time, each rung given its chance before the next:
 *
 *   raise QEMU's downtime limit (doubling, up to a ceiling: 300, 600, 1000 ms)
 *     -> throttle the vCPUs (auto-converge)          unless --no-throttle
 *     -> switch to post-copy                         only with --postcopy
 *     -> abort, with the figures that explain why
 *
 * Not converging means: QEMU's remaining bytes at the start of a pass (right after its dirty
 * sync, where they peak) reached no new low for `stallPasses` passes, or the guest's dirty rate
 * stayed above the link's measured rate for `dirtyPasses` passes in a row. A migration that
 * converges never gets here: each pass starts lower than the last and QEMU completes.
 *
 * Pure decisions: fed every progress sample, it says what to do next; ladder-driver.ts applies
 * that to QEMU. The clock only dates the figures.
 */
import type { MigrationProgress } from '@xlkit/qmp';

/** QEMU's own downtime-limit default (ms). */
export const QEMU_DEFAULT_DOWNTIME_MS = 300;
/**
 * How far the ladder raises the downtime limit when the user gave no --max-downtime (ms): a
 * pause of up to a second is what KubeVirt's downtime ramp ends at, and what a guest's TCP
 * peers and cluster heartbeats usually ride out.
 */
export const DEFAULT_DOWNTIME_CEILING_MS = 1000;

export interface LadderPolicy {
  /** QEMU's downtime limit when the migration starts (ms). */
  startDowntimeMs: number;
  /** The highest limit the ladder may set (ms); at or below the start: no downtime rung. */
  ceilingDowntimeMs: number;
  /** The throttle rung is allowed (not --no-throttle). */
  throttle: boolean;
  /** The post-copy rung is allowed (--postcopy). */
  postcopy: boolean;
  /** Passes without a new low before a migration counts as not converging. */
  stallPasses: number;
  /** Passes a raised downtime limit gets (QEMU applies it at the next pass's end). */
  downtimePasses: number;
  /**
   * Passes the throttle gets: QEMU raises it every other pass while the guest dirties more than
   * half of what went out, so the default (10) takes it from 1% to 99% in steps of 25 and
   * leaves two passes at the top.
   */
  throttlePasses: number;
  /** Consecutive passes with the dirty rate above the link rate that count as not converging. */
  dirtyPasses: number;
  /** A new low must be this fraction below the lowest so far ... */
  minGain: number;
  /**
   * ... and more than the link moves in this many seconds (up to a quarter of the lowest): a
   * pass's figure is sampled up to one poll after QEMU's sync, and what went out meanwhile is
   * not progress.
   */
  sampleSeconds: number;
}

/**
 * The ladder for a migration: the downtime limit starts at --max-downtime and stays there (the
 * user's bound is never exceeded), or starts at QEMU's 300 ms and may double up to 1000 ms.
 */
export function ladderPolicy(
  o: { maxDowntimeMs?: number; throttle: boolean; postcopy: boolean },
  tuning: Partial<LadderPolicy> = {},
): LadderPolicy {
  return {
    startDowntimeMs: o.maxDowntimeMs ?? QEMU_DEFAULT_DOWNTIME_MS,
    ceilingDowntimeMs: o.maxDowntimeMs ?? DEFAULT_DOWNTIME_CEILING_MS,
    throttle: o.throttle,
    postcopy: o.postcopy,
    stallPasses: 3,
    downtimePasses: 1,
    throttlePasses: 10,
    dirtyPasses: 2,
    minGain: 0.1,
    sampleSeconds: 0.5,
    ...tuning,
  };
}

export type LadderStep =
  | { step: 'downtime'; downtimeMs: number }
  | { step: 'throttle' }
  | { step: 'postcopy' }
  | { step: 'abort'; message: string };

/** What the decision rests on (bytes, bytes/s). */
export interface LadderFigures {
  /** 'no-new-low': the pass window ran out; 'dirty-rate': the guest dirties faster than the link. */
  reason: 'no-new-low' | 'dirty-rate';
  pass: number;
  /** Passes since the last new low, or since the last rung when that came later. */
  passes: number;
  remaining: number;
  /** The lowest figure of the whole migration, and its pass. */
  lowest: number;
  lowestPass: number;
  dirtyRate: number;
  linkRate: number;
  /** Since the ladder started (the RAM phase). */
  seconds: number;
  /** QEMU's vCPU throttle, when it throttles. */
  throttlePercent?: number;
}

export type LadderAction = LadderStep & { figures: LadderFigures };

const MiB = 1024 * 1024;
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

export class ConvergenceLadder {
  #downtimeMs: number;
  #throttled = false;
  #done: LadderStep | undefined;
  #lastPass = 0;
  /** The lowest pass figure since the last rung (see `sample`). */
  #lowest: number | undefined;
  /** The lowest figure of the whole migration, for the figures. */
  #best = Number.POSITIVE_INFINITY;
  #bestPass = 0;
  /** The pass the current window counts from: the last new low, or the last rung. */
  #since = 0;
  /** The pass at which the last rung was taken. */
  #stepPass = 0;
  #window: number;
  #dirtyOver = 0;
  #throttlePercent: number | undefined;
  readonly #started: number;

  constructor(
    readonly policy: LadderPolicy,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#downtimeMs = policy.startDowntimeMs;
    this.#window = policy.stallPasses;
    this.#started = now();
  }

  /** QEMU's downtime limit as the ladder left it (ms). */
  get downtimeMs(): number {
    return this.#downtimeMs;
  }

  /** The last rung (post-copy or abort) was taken: nothing more will come. */
  get finished(): boolean {
    return this.#done !== undefined;
  }

  /** For the progress line, once the ladder did something: what it changed. */
  get note(): string | undefined {
    if (this.#done?.step === 'postcopy') return 'not converging: switching to post-copy';
    if (this.#done?.step === 'abort') return 'not converging: giving up';
    const parts = [
      ...(this.#downtimeMs === this.policy.startDowntimeMs ? [] : [`downtime limit ${this.#downtimeMs} ms`]),
      ...(this.#throttled ? [`vCPU throttle ${this.#throttlePercent ?? 0}%`] : []),
    ];
    return parts.length === 0 ? undefined : `not converging: ${parts.join(', ')}`;
  }

  /** Extra fields of the JSON progress event, once the ladder changed something. */
  get fields(): Record<string, number> {
    return {
      ...(this.#downtimeMs === this.policy.startDowntimeMs ? {} : { downtimeLimitMs: this.#downtimeMs }),
      ...(this.#throttled ? { throttlePercent: this.#throttlePercent ?? 0 } : {}),
    };
  }

  /**
   * Feed every progress sample; returns the next rung when one is due. A pass counts by its
   * first sample (QEMU's remaining bytes only fall within a pass). After a rung the lowest
   * figure starts afresh at the next pass: a higher limit makes QEMU sync earlier, which lowers
   * every pass's figure once without bringing the end any closer.
   */
  sample(m: MigrationProgress): LadderAction | undefined {
    if (this.#throttled) this.#throttlePercent = m.info['cpu-throttle-percentage'] ?? this.#throttlePercent;
    // Only pre-copy passes count: not setup, not the pause before the switch-over, not post-copy.
    if (this.#done !== undefined || m.status !== 'active' || m.pass <= this.#lastPass) return undefined;
    this.#lastPass = m.pass;
    // Pass 1 is the bulk copy; its first sync (pass 2) gives the first figure to compare.
    if (m.pass < 2) return undefined;
    const p = this.policy;
    const linkRate = (m.mbps * 1e6) / 8;
    const dirtyRate = m.dirtyPagesRate * (m.info.ram?.['page-size'] || 4096);
    if (m.remaining < this.#best) {
      this.#best = m.remaining;
      this.#bestPass = m.pass;
    }
    if (this.#lowest === undefined) {
      this.#lowest = m.remaining;
      // The first figure opens the first window; after a rung, the rung's window goes on.
      if (this.#stepPass === 0) this.#since = m.pass;
    } else if (m.remaining <= this.#lowest - this.#gain(linkRate)) {
      this.#lowest = m.remaining;
      this.#since = m.pass;
      this.#window = p.stallPasses;
      this.#dirtyOver = 0;
      return undefined;
    }
    this.#dirtyOver = linkRate > 0 && dirtyRate > linkRate ? this.#dirtyOver + 1 : 0;
    const passes = m.pass - this.#since;
    // A throttle needs its passes to ramp up, whatever the dirty rate meanwhile.
    const dirtyStuck = this.#dirtyOver >= p.dirtyPasses && !this.#throttleRamping(m.pass);
    if (passes < this.#window && !dirtyStuck) return undefined;
    const figures: LadderFigures = {
      reason: passes >= this.#window ? 'no-new-low' : 'dirty-rate',
      pass: m.pass,
      passes,
      remaining: m.remaining,
      lowest: this.#best,
      lowestPass: this.#bestPass,
      dirtyRate,
      linkRate,
      seconds: Math.round((this.now() - this.#started) / 100) / 10,
      ...(this.#throttlePercent === undefined ? {} : { throttlePercent: this.#throttlePercent }),
    };
    const step = this.#nextRung(figures);
    this.#stepPass = m.pass;
    this.#since = m.pass;
    this.#lowest = undefined;
    this.#dirtyOver = 0;
    return { ...step, figures };
  }

  /** How far below the lowest a figure must be to count as a new low (bytes). */
  #gain(linkRate: number): number {
    const lowest = this.#lowest ?? 0;
    return Math.max(lowest * this.policy.minGain, Math.min(linkRate * this.policy.sampleSeconds, lowest / 4));
  }

  #throttleRamping(pass: number): boolean {
    return this.#throttled && pass - this.#stepPass < this.policy.throttlePasses;
  }

  #nextRung(f: LadderFigures): LadderStep {
    const p = this.policy;
    if (this.#downtimeMs < p.ceilingDowntimeMs) {
      this.#downtimeMs = Math.min(this.#downtimeMs * 2, p.ceilingDowntimeMs);
      this.#window = p.downtimePasses;
      return { step: 'downtime', downtimeMs: this.#downtimeMs };
    }
    if (p.throttle && !this.#throttled) {
      this.#throttled = true;
      this.#window = p.throttlePasses;
      return { step: 'throttle' };
    }
    this.#done = p.postcopy ? { step: 'postcopy' } : { step: 'abort', message: this.#why(f) };
    return this.#done;
  }

  #why(f: LadderFigures): string {
    const p = this.policy;
    const tried = [
      `downtime limit ${this.#downtimeMs} ms${p.ceilingDowntimeMs <= p.startDowntimeMs ? ' (--max-downtime)' : ''}`,
      this.#throttled
        ? `vCPUs throttled to ${f.throttlePercent ?? 0}%`
        : p.throttle
          ? 'no throttle'
          : 'no throttle (--no-throttle)',
    ];
    return (
      `not converging: ${mib(f.remaining)} MiB remaining after ${f.pass} passes ` +
      `(lowest ${mib(f.lowest)} MiB at pass ${f.lowestPass}), ` +
      `dirty rate ${mib(f.dirtyRate)} MiB/s vs link ${mib(f.linkRate)} MiB/s, ${f.seconds} s; ` +
      `tried ${tried.join(', ')}; with --postcopy it would move anyway`
    );
  }
}
