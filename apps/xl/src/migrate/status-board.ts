/**
 * The live status of one `xl migrate`, for `xl migrate-status` (through control-server.ts):
 * the phase, the figures of its progress, a rate over the last few seconds, and whether the
 * migration can still be aborted. Fed from outside the phase code: it observes the session's
 * progress reporter (phases and samples) and QEMU's RAM figures as the source port sees them
 * (observed-source.ts).
 */
import type { MigrationProgress } from '@xlkit/qmp';
import type { ProgressObserver, ProgressSample } from '../progress/reporter.js';

export interface MigrationStatus {
  domain: string;
  host: string;
  /** 'start' until the first phase: handshake, bootstrap, mirror, ram, switchover, cleanup. */
  phase: string;
  /** Bytes moved, as the latest phase that reported progress counts them. */
  bytes: number;
  total?: number;
  remaining?: number;
  /** Bytes per second over the last few seconds of this phase. */
  rate: number;
  /** RAM: QEMU's dirty-sync pass. */
  pass?: number;
  /** RAM: the guest's dirty rate, pages per second. */
  dirtyPagesRate?: number;
  /** RAM: QEMU's expected downtime (ms), when it reports one. */
  expectedDowntimeMs?: number;
  /** Seconds since the migration started. */
  elapsed: number;
  /** Neither GO nor post-copy began: an abort still rolls the migration back. */
  abortable: boolean;
  /** Being rolled back: aborted, interrupted, or a failure was found. */
  aborted: boolean;
}

/** What the board reads of the session: whether GO went out, whether it is being undone. */
export interface BoardSession {
  readonly goSent: boolean;
  /** Post-copy began: as after GO, the source is never resumed. */
  readonly postcopyActive?: boolean;
  /** Set by `xl migrate-postcopy`: the ram phase switches at its next sample. */
  postcopyRequested?: boolean;
  /** Whether this migration may switch to post-copy at all (--postcopy). */
  readonly settings?: { readonly postcopy?: object };
  readonly failure: AbortController;
}

/** Whether an abort still rolls the migration back: before GO and before post-copy. */
export const canAbort = (s: BoardSession): boolean => !s.goSent && s.postcopyActive !== true;

/** The rate is measured over this much of the most recent progress. */
export const RATE_WINDOW_MS = 3_000;
/** Points kept for the rate (samples come every 200 ms or so; forced ones are rare). */
const MAX_POINTS = 64;

interface Point {
  t: number;
  bytes: number;
}

export class StatusBoard implements ProgressObserver {
  readonly #who: { domain: string; host: string };
  readonly #now: () => number;
  readonly #start: number;
  #session: BoardSession | undefined;
  #phase = 'start';
  /** The phase the progress figures below belong to. */
  #figuresPhase = 'start';
  #bytes = 0;
  #total: number | undefined;
  #remaining: number | undefined;
  #pass: number | undefined;
  #dirtyPagesRate: number | undefined;
  #expectedDowntimeMs: number | undefined;
  /** Oldest first; the first point is the base the rate is measured from. */
  #points: Point[] = [];

  constructor(who: { domain: string; host: string }, now: () => number = () => performance.now()) {
    this.#who = who;
    this.#now = now;
    this.#start = now();
  }

  /** The session whose GO and failure state the status reports. */
  follow(session: BoardSession): void {
    this.#session = session;
  }

  phase(name: string): void {
    this.#phase = name;
    this.#points = [{ t: this.#now(), bytes: 0 }];
  }

  update(sample: ProgressSample): void {
    this.#claim();
    this.#bytes = sample.bytes;
    this.#total = sample.total;
    this.#remaining = sample.remaining;
    const f = sample.fields ?? {};
    if (isFigure(f.pass)) this.#pass = f.pass;
    if (isFigure(f.dirtyPagesRate)) this.#dirtyPagesRate = f.dirtyPagesRate;
    const t = this.#now();
    const last = this.#points.at(-1);
    // A count that went down started over: measure from here.
    if (last !== undefined && sample.bytes < last.bytes) this.#points = [];
    this.#points.push({ t, bytes: sample.bytes });
    if (this.#points.length > MAX_POINTS) this.#points.splice(0, this.#points.length - MAX_POINTS);
  }

  /** QEMU's latest RAM figures (called on every RAM progress report: keep it cheap). */
  ram(m: MigrationProgress | undefined): void {
    if (m === undefined) return;
    this.#claim();
    this.#expectedDowntimeMs = isFigure(m.expectedDowntimeMs) ? m.expectedDowntimeMs : undefined;
  }

  snapshot(): MigrationStatus {
    const now = this.#now();
    const s = this.#session;
    return {
      domain: this.#who.domain,
      host: this.#who.host,
      phase: this.#phase,
      bytes: this.#bytes,
      ...(this.#total === undefined ? {} : { total: this.#total }),
      ...(this.#remaining === undefined ? {} : { remaining: this.#remaining }),
      rate: Math.round(this.#rate(now)),
      ...(this.#pass === undefined ? {} : { pass: this.#pass }),
      ...(this.#dirtyPagesRate === undefined ? {} : { dirtyPagesRate: this.#dirtyPagesRate }),
      ...(this.#expectedDowntimeMs === undefined ? {} : { expectedDowntimeMs: this.#expectedDowntimeMs }),
      elapsed: Math.round((now - this.#start) / 100) / 10,
      abortable: s !== undefined && canAbort(s),
      aborted: s?.failure.signal.aborted === true,
    };
  }

  /** Figures of an earlier phase are dropped once this phase reports its own. */
  #claim(): void {
    if (this.#figuresPhase === this.#phase) return;
    this.#figuresPhase = this.#phase;
    this.#pass = undefined;
    this.#dirtyPagesRate = undefined;
    this.#expectedDowntimeMs = undefined;
  }

  /** Bytes per second from the newest point at least RATE_WINDOW_MS old (or the oldest) to now. */
  #rate(now: number): number {
    const points = this.#points;
    while (points.length > 1 && points[1]!.t <= now - RATE_WINDOW_MS) points.shift();
    const base = points[0];
    const newest = points.at(-1);
    if (base === undefined || newest === undefined) return 0;
    const seconds = (now - base.t) / 1000;
    return seconds > 0 ? Math.max(0, newest.bytes - base.bytes) / seconds : 0;
  }
}

const isFigure = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
