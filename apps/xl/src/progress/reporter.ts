/**
 * Progress of a long transfer (save, restore, migrate): a self-overwriting status line on a
 * TTY (stderr), NDJSON events with --json (stdout), or nothing. Writes only to the streams
 * it is given.
 */
import { oneLine, safeJson } from './terminal-text.js';
import { etaOf, fitToWidth, formatProgressLine, rateOf, type ProgressSnapshot } from './format.js';

export type ProgressMode = 'tty' | 'json' | 'quiet';

export interface ProgressSample {
  bytes: number;
  total?: number;
  remaining?: number;
  /** Appended to the TTY status line (e.g. "pass 3, dirty 1200 pages/s"). */
  note?: string;
  /** Extra fields of the JSON progress event. */
  fields?: Record<string, unknown>;
}

export interface ProgressOutput {
  stdout: NodeJS.WritableStream;
  /** `columns`: the terminal's width, read at every status line (it may be resized). */
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface ReporterOptions {
  mode: ProgressMode;
  /** Named in every event and status line: 'save', 'restore', 'migrate', ... */
  operation: string;
  /** Clock in milliseconds (tests pass a fake one). */
  now?: () => number;
  /** Least time between two progress outputs (default 250 ms on a TTY, 1000 ms for JSON). */
  intervalMs?: number;
}

/**
 * Sees what a reporter is told, whatever its mode (e.g. a migration's live status for
 * `xl migrate-status`): every phase, and the samples at most every OBSERVE_INTERVAL_MS (and
 * every forced one). Observing never changes what the reporter writes.
 */
export interface ProgressObserver {
  phase(name: string): void;
  update(sample: ProgressSample): void;
}

/** Least time between two samples offered to observers. */
export const OBSERVE_INTERVAL_MS = 200;

/** JSON numbers for the events: seconds and rates rounded to keep lines short. */
const round = (v: number, digits = 3): number => Math.round(v * 10 ** digits) / 10 ** digits;

export class ProgressReporter {
  readonly mode: ProgressMode;
  readonly #out: ProgressOutput;
  readonly #operation: string;
  readonly #now: () => number;
  readonly #interval: number;
  readonly #start: number;
  #phase = 'start';
  #phaseStart: number;
  #lastOutput = Number.NEGATIVE_INFINITY;
  #lineShown = false;
  readonly #observers = new Set<ProgressObserver>();
  #lastObserved = Number.NEGATIVE_INFINITY;

  constructor(out: ProgressOutput, options: ReporterOptions) {
    this.mode = options.mode;
    this.#out = out;
    this.#operation = options.operation;
    this.#now = options.now ?? (() => performance.now());
    this.#interval = options.intervalMs ?? (options.mode === 'json' ? 1000 : 250);
    this.#start = this.#now();
    this.#phaseStart = this.#start;
  }

  /** JSON with --json, a status line when stderr is a terminal, otherwise quiet. */
  static forCommand(out: ProgressOutput, json: boolean, operation: string): ProgressReporter {
    const mode: ProgressMode = json ? 'json' : out.stderr.isTTY === true ? 'tty' : 'quiet';
    return new ProgressReporter(out, { mode, operation });
  }

  /** Seconds since the reporter was created. */
  get elapsed(): number {
    return (this.#now() - this.#start) / 1000;
  }

  /** Adds an observer; returns the function that removes it. */
  observe(observer: ProgressObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** A new phase; its rate and ETA are measured from now. */
  phase(name: string, data: Record<string, unknown> = {}): void {
    this.#phase = name;
    this.#phaseStart = this.#now();
    this.#lastOutput = Number.NEGATIVE_INFINITY;
    this.#lastObserved = Number.NEGATIVE_INFINITY;
    for (const o of this.#observers) o.phase(name);
    this.event('phase', { phase: name, ...data });
  }

  /**
   * Bytes moved so far in this phase; shown at most once per interval (and always with force).
   * Data paths call this per socket read: pass a function and the sample is only built when
   * it will be shown.
   */
  update(sampleOrMake: ProgressSample | (() => ProgressSample), force = false): void {
    const observed = this.#observers.size > 0;
    if (this.mode === 'quiet' && !observed) return;
    const t = this.#now();
    const show = this.mode !== 'quiet' && (force || t - this.#lastOutput >= this.#interval);
    const tell = observed && (force || t - this.#lastObserved >= OBSERVE_INTERVAL_MS);
    if (!show && !tell) return;
    const sample = typeof sampleOrMake === 'function' ? sampleOrMake() : sampleOrMake;
    if (tell) {
      this.#lastObserved = t;
      for (const o of this.#observers) o.update(sample);
    }
    if (!show) return;
    this.#lastOutput = t;
    const snap: ProgressSnapshot = {
      operation: this.#operation,
      phase: this.#phase,
      ...sample,
      elapsed: (t - this.#phaseStart) / 1000,
    };
    if (this.mode === 'tty') {
      const line = oneLine(
        `${formatProgressLine(snap)}${sample.note === undefined ? '' : `, ${sample.note}`}`,
      );
      this.#out.stderr.write(`\r\x1b[K${fitToWidth(line, this.#out.stderr.columns)}`);
      this.#lineShown = true;
      return;
    }
    const eta = etaOf(snap);
    this.#emit({
      event: 'progress',
      phase: this.#phase,
      bytes: sample.bytes,
      ...(sample.total === undefined ? {} : { total: sample.total }),
      ...(sample.remaining === undefined ? {} : { remaining: sample.remaining }),
      rate: Math.round(rateOf(snap)),
      ...(eta === undefined ? {} : { eta: round(eta, 1) }),
      ...sample.fields,
    });
  }

  /** A named NDJSON event (JSON mode only). */
  event(name: string, data: Record<string, unknown> = {}): void {
    if (this.mode === 'json') this.#emit({ event: name, ...data });
  }

  /** The final summary event (JSON mode); on a TTY the status line is erased. */
  summary(data: Record<string, unknown>): void {
    this.clear();
    this.event('summary', data);
  }

  /** Erase the status line (before an error or the final message). */
  clear(): void {
    if (this.#lineShown) this.#out.stderr.write('\r\x1b[K');
    this.#lineShown = false;
  }

  #emit(fields: Record<string, unknown>): void {
    this.#out.stdout.write(
      `${safeJson({ ...fields, operation: this.#operation, time: round(this.elapsed) })}\n`,
    );
  }
}
