/**
 * Writes to a Node Writable honouring backpressure. A write is queued at once; the next one
 * first waits while the sink holds `budget` bytes or more (or its high-water mark, if that is
 * larger), and it resumes as soon as a flushed write brings the sink below that, not only at
 * 'drain' (which Node emits once the buffer is empty). So the output (a file written by the
 * thread pool, a socket) always has queued data while the caller prepares (checksums) the
 * next record, and the two overlap instead of taking turns.
 */
import type { Writable } from 'node:stream';
import { StreamError } from './errors.js';

export class Sink {
  #failure: unknown;
  #waiters: (() => void)[] = [];
  readonly #wake = (): void => {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  };

  constructor(
    readonly writable: Writable,
    readonly budget = 0,
  ) {
    writable.on('error', (err) => {
      this.#failure ??= err;
      this.#wake();
    });
    writable.on('drain', this.#wake);
    writable.on('close', this.#wake);
  }

  /** Wait until the sink holds less than its limit (no-op when it already does). */
  async ready(): Promise<void> {
    this.#check();
    const w = this.writable;
    const limit = Math.max(1, this.budget, w.writableHighWaterMark);
    while (w.writableLength >= limit) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      this.#check();
    }
  }

  /** Wait until the sink's buffer has emptied, whatever the budget. */
  async drained(): Promise<void> {
    this.#check();
    while (this.writable.writableNeedDrain) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      this.#check();
    }
  }

  /** Queue the parts (no concatenation) once the sink is below its limit. */
  async write(parts: readonly Buffer[]): Promise<void> {
    await this.ready();
    const w = this.writable;
    if (parts.length > 1) w.cork();
    let last = parts.length - 1;
    while (last >= 0 && (parts[last] as Buffer).length === 0) last -= 1;
    for (let i = 0; i <= last; i++) {
      const p = parts[i] as Buffer;
      if (p.length > 0) w.write(p, i === last ? this.#wake : undefined);
    }
    if (parts.length > 1) w.uncork();
  }

  #check(): void {
    // A failed write destroys the stream before 'error' is emitted: errored has the cause.
    const failure = this.#failure ?? this.writable.errored ?? undefined;
    if (failure !== undefined)
      throw new StreamError('STREAM_IO', 'writing the stream failed', { cause: failure });
    if (this.writable.destroyed || this.writable.writableEnded)
      throw new StreamError('STREAM_IO', 'the output is closed');
  }
}
