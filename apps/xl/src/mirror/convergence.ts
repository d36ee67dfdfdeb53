/**
 * Detects a mirror that stopped converging: its remaining bytes (len - offset) have not
 * reached a new low for a whole window, while the job is not READY yet. A guest writing
 * faster than the copy makes exactly this pattern; waiting longer would not help.
 */
export interface ConvergenceSample {
  remaining: number;
  /** Milliseconds, any monotonic clock. */
  at: number;
}

export interface Stall {
  remaining: number;
  lowest: number;
  /** How long ago the lowest remaining value was seen (ms). */
  sinceMs: number;
}

export class ConvergenceWatch {
  #lowest = Number.POSITIVE_INFINITY;
  #lowestAt = 0;

  /**
   * `windowMs`: how long without a new low counts as not converging. `minGain`: a new low
   * must improve by at least this many bytes (so noise does not reset the window).
   */
  constructor(
    readonly windowMs: number,
    readonly minGain = 1024 * 1024,
  ) {}

  /** Feed one sample; returns the stall once the window passed without progress. */
  sample(s: ConvergenceSample): Stall | undefined {
    if (
      this.#lowest === Number.POSITIVE_INFINITY ||
      s.remaining <= this.#lowest - Math.min(this.minGain, this.#lowest)
    ) {
      this.#lowest = s.remaining;
      this.#lowestAt = s.at;
      return undefined;
    }
    const since = s.at - this.#lowestAt;
    return since >= this.windowMs
      ? { remaining: s.remaining, lowest: this.#lowest, sinceMs: since }
      : undefined;
  }
}
