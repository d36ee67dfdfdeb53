/** Writes to a Node Writable honouring backpressure: resolves once the sink can take more. */
import type { Writable } from 'node:stream';
import { StreamError } from './errors.js';

export class Sink {
  #failure: unknown;

  constructor(readonly writable: Writable) {
    writable.on('error', (err) => {
      this.#failure ??= err;
    });
  }

  /** Write the parts (no concatenation); waits for 'drain' when the sink is full. */
  async write(parts: readonly Buffer[]): Promise<void> {
    this.#check();
    const w = this.writable;
    let ok = true;
    if (parts.length > 1) w.cork();
    for (const p of parts) if (p.length > 0) ok = w.write(p);
    if (parts.length > 1) w.uncork();
    if (!ok || w.writableNeedDrain) await this.#drain();
    this.#check();
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
