/**
 * Writes to a Node Writable honouring backpressure. A write is queued at once; the next one
 * first waits for 'drain' if the sink already holds `budget` bytes or more, so the caller
 * can prepare (checksum) the next record while earlier ones are still being flushed and the
 * output never runs dry between records. At most `budget` plus one record is buffered.
 */
import type { Writable } from 'node:stream';
import { StreamError } from './errors.js';

export class Sink {
  #failure: unknown;

  constructor(readonly writable: Writable, readonly budget = 0) {
    writable.on('error', (err) => {
      this.#failure ??= err;
    });
  }

  /** Wait until the sink can take more (no-op when it is not full). */
  async ready(): Promise<void> {
    this.#check();
    const w = this.writable;
    if (w.writableNeedDrain && w.writableLength >= Math.max(this.budget, w.writableHighWaterMark)) await this.#drain();
    this.#check();
  }

  /** Wait until the sink's buffer has emptied, whatever the budget. */
  async drained(): Promise<void> {
    this.#check();
    if (this.writable.writableNeedDrain) await this.#drain();
    this.#check();
  }

  /** Queue the parts (no concatenation) after waiting for the sink to drain. */
  async write(parts: readonly Buffer[]): Promise<void> {
    await this.ready();
    const w = this.writable;
    if (parts.length > 1) w.cork();
    for (const p of parts) if (p.length > 0) w.write(p);
    if (parts.length > 1) w.uncork();
  }

  #check(): void {
    if (this.#failure !== undefined) throw new StreamError('STREAM_IO', 'writing the stream failed', { cause: this.#failure });
    if (this.writable.destroyed || this.writable.writableEnded) throw new StreamError('STREAM_IO', 'the output is closed');
  }

  #drain(): Promise<void> {
    const w = this.writable;
    return new Promise((resolve) => {
      const done = () => {
        w.off('drain', done);
        w.off('error', done);
        w.off('close', done);
        resolve();
      };
      w.on('drain', done);
      w.on('error', done);
      w.on('close', done);
    });
  }
}
