/**
 * The course of one operation (save, restore, migrate) over time, as `--timeline FILE.svg`
 * draws it: recorded from what the progress reporter is told (phases, byte samples with QEMU's
 * remaining RAM and dirty rate), whatever the output mode.
 */
import type { ProgressObserver, ProgressSample } from './reporter.js';

/** Guest page size for the dirty rate QEMU reports in pages/s (x86). */
const PAGE_BYTES = 4096;

export interface TimelinePhase {
  name: string;
  /** Seconds since the operation began. */
  start: number;
  end: number;
}

export interface TimelinePoint {
  t: number;
  /** Bytes/s moved since the previous sample of the same phase. */
  rate?: number;
  /** QEMU's RAM still to send, when it said. */
  remaining?: number;
  /** The guest's dirty rate in bytes/s, when QEMU said. */
  dirtyRate?: number;
}

/** A span the chart marks (the guest's downtime or pause). */
export interface TimelineMark {
  label: string;
  start: number;
  end: number;
}

export interface TimelineData {
  title: string;
  phases: TimelinePhase[];
  points: TimelinePoint[];
  marks: TimelineMark[];
  /** Seconds from start to the end of the operation. */
  end: number;
}

export class TimelineRecorder implements ProgressObserver {
  readonly #now: () => number;
  readonly #t0: number;
  /** Date.now() at the start, to place wall-clock stamps (QEMU's STOP event). */
  readonly #wall0: number;
  readonly #phases: TimelinePhase[] = [];
  readonly #points: TimelinePoint[] = [];
  readonly #marks: TimelineMark[] = [];
  #last: { t: number; bytes: number; phase: number } | undefined;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.#t0 = now();
    this.#wall0 = Date.now();
  }

  /** Seconds since the recorder began. */
  get elapsed(): number {
    return (this.#now() - this.#t0) / 1000;
  }

  /** A wall-clock time (ms since the epoch) on this recorder's axis, in seconds. */
  fromWallClock(ms: number): number {
    return (ms - this.#wall0) / 1000;
  }

  phase(name: string): void {
    const t = this.elapsed;
    const open = this.#phases.at(-1);
    if (open !== undefined) open.end = t;
    this.#phases.push({ name, start: t, end: t });
    this.#last = undefined;
  }

  update(sample: ProgressSample): void {
    const t = this.elapsed;
    const phase = this.#phases.length;
    const point: TimelinePoint = { t };
    const prev = this.#last;
    if (prev !== undefined && prev.phase === phase && t > prev.t && sample.bytes >= prev.bytes)
      point.rate = (sample.bytes - prev.bytes) / (t - prev.t);
    if (sample.remaining !== undefined) point.remaining = sample.remaining;
    const dirty = sample.fields?.['dirtyPagesRate'];
    if (typeof dirty === 'number' && Number.isFinite(dirty)) point.dirtyRate = dirty * PAGE_BYTES;
    this.#last = { t, bytes: sample.bytes, phase };
    this.#points.push(point);
  }

  /** Marks a span, in seconds on this recorder's axis (clamped to it when drawn). */
  mark(label: string, start: number, end: number): void {
    this.#marks.push({ label, start, end: Math.max(start, end) });
  }

  /** The start of the last phase of that name, if there was one. */
  phaseStart(name: string): number | undefined {
    return this.#phases.findLast((p) => p.name === name)?.start;
  }

  /** The end of the last phase of that name (now, if it is still the current one). */
  phaseEnd(name: string): number | undefined {
    const i = this.#phases.findLastIndex((p) => p.name === name);
    if (i < 0) return undefined;
    return i === this.#phases.length - 1 ? this.elapsed : this.#phases[i]?.end;
  }

  /** Everything so far, the last phase closed now. */
  finish(title: string): TimelineData {
    const end = this.elapsed;
    const phases = this.#phases.map((p, i) => (i === this.#phases.length - 1 ? { ...p, end } : { ...p }));
    return { title, phases, points: [...this.#points], marks: [...this.#marks], end };
  }
}
