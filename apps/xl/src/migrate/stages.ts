/** Phase timing of one migration, mirrored to the progress reporter (phase events, summary). */
import type { ProgressReporter } from '../progress/reporter.js';

export class Stages {
  #current = 'start';
  #started = performance.now();
  #at = this.#started;
  #durations: Record<string, number> = {};

  /**
   * `before`: the operation began earlier, in a phase of its own (`xl upgrade`'s prepare,
   * announced by the caller): its time is that phase's, and the total counts from it.
   */
  constructor(
    private readonly progress: ProgressReporter,
    before?: { phase: string; startedAt: number },
  ) {
    if (before === undefined) return;
    this.#current = before.phase;
    this.#started = this.#at = before.startedAt;
  }

  get current(): string {
    return this.#current;
  }

  start(name: string): void {
    this.#close();
    this.#current = name;
    this.progress.phase(name);
  }

  /** A point event inside the current phase (NDJSON only). */
  event(name: string, data: Record<string, unknown> = {}): void {
    this.progress.event(name, { phase: this.#current, ...data });
  }

  end(): void {
    this.#close();
    this.#current = 'done';
  }

  durations(): Record<string, number> {
    return { ...this.#durations };
  }

  total(): number {
    return round((performance.now() - this.#started) / 1000);
  }

  #close(): void {
    const now = performance.now();
    if (this.#current !== 'start' && this.#current !== 'done')
      this.#durations[this.#current] = round((now - this.#at) / 1000);
    this.#at = now;
  }
}

function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}
