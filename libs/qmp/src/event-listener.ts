import { QmpProtocolError, QmpStateError, QmpTimeoutError } from './errors.js';
import type { QmpEvent } from './types.js';

export type EventFilter = (ev: QmpEvent) => boolean;

/** Events a listener holds unread before it is ended as fallen behind (bounded memory). */
export const MAX_QUEUED_EVENTS = 10_000;

/**
 * One subscriber's private FIFO of QMP events. The client's reader only appends to it, so a slow
 * consumer never stalls the socket or command replies. Iterate with `for await`, or take one event
 * with `get()`. Iteration ends when the listener or the connection is closed, or when it holds
 * `maxQueued` unread events (then `get()` rejects with a QmpProtocolError once they are read).
 */
export class EventListener implements AsyncIterable<QmpEvent> {
  readonly names: ReadonlySet<string> | undefined;
  private readonly queue: QmpEvent[] = [];
  private readonly waiters: Array<{ resolve: (ev: QmpEvent | undefined) => void }> = [];
  private endReason: Error | undefined;
  private ended = false;

  constructor(
    names: string | readonly string[] | undefined,
    private readonly filter: EventFilter | undefined,
    private readonly onClose: (l: EventListener) => void = () => {},
    private readonly maxQueued = MAX_QUEUED_EVENTS,
  ) {
    this.names = names === undefined ? undefined : new Set(typeof names === 'string' ? [names] : names);
  }

  /** Number of events queued and not yet consumed. */
  get size(): number {
    return this.queue.length;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** True if this listener wants the event (name and filter match). */
  accepts(ev: QmpEvent): boolean {
    if (this.names !== undefined && !this.names.has(ev.event)) return false;
    return this.filter === undefined || this.filter(ev);
  }

  /** Called by the client for every event; queues it if it matches. */
  deliver(ev: QmpEvent): void {
    if (this.ended || !this.accepts(ev)) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(ev);
    else if (this.queue.length >= this.maxQueued) {
      this.end(
        new QmpProtocolError(
          `event listener for ${this.describe()} fell behind: ${this.maxQueued} events queued and unread`,
        ),
      );
    } else this.queue.push(ev);
  }

  /** Next event, or `undefined` once the listener has ended and the queue is drained. */
  next(): Promise<QmpEvent | undefined> {
    const ev = this.queue.shift();
    if (ev !== undefined) return Promise.resolve(ev);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  /**
   * Next event; rejects with the end reason (e.g. `QmpInterruptedError` when the connection closed)
   * or a `QmpTimeoutError` after `timeoutMs` (0 or absent = no limit).
   */
  async get(opts: { timeoutMs?: number } = {}): Promise<QmpEvent> {
    const queued = this.queue.shift();
    if (queued !== undefined) return queued;
    if (this.ended) throw this.endError();
    const timeoutMs = opts.timeoutMs ?? 0;
    return new Promise<QmpEvent>((resolve, reject) => {
      const waiter = {
        resolve: (ev: QmpEvent | undefined) => {
          if (timer !== undefined) clearTimeout(timer);
          if (ev === undefined) reject(this.endError());
          else resolve(ev);
        },
      };
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              const i = this.waiters.indexOf(waiter);
              if (i !== -1) this.waiters.splice(i, 1);
              reject(new QmpTimeoutError(`waiting for event ${this.describe()}`, timeoutMs));
            }, timeoutMs)
          : undefined;
      this.waiters.push(waiter);
    });
  }

  /** Drops queued events; returns how many were dropped. */
  clear(): number {
    return this.queue.splice(0).length;
  }

  /** Stops receiving; queued events can still be read, then iteration ends. */
  close(): void {
    this.end(undefined);
  }

  /** Ends the listener with a reason that `get()` rejects with. Used by the client on disconnect. */
  end(reason: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    for (const w of this.waiters.splice(0)) w.resolve(undefined);
    this.onClose(this);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<QmpEvent> {
    try {
      for (;;) {
        const ev = await this.next();
        if (ev === undefined) return;
        yield ev;
      }
    } finally {
      this.close();
    }
  }

  private describe(): string {
    return this.names === undefined ? '(any)' : [...this.names].join('|');
  }

  private endError(): Error {
    return this.endReason ?? new QmpStateError('listener closed', `an open listener for ${this.describe()}`);
  }
}
