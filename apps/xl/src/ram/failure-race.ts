/**
 * Waits that a long-lived failure can cut short, without `Promise.race`'s leak.
 *
 * `await Promise.race([next, failed])` in a loop adds a reaction to `failed` on every turn, and
 * while `failed` stays pending (it does for a whole transfer: QEMU has not failed) each reaction
 * keeps its race's result alive. Receiving RAM that way held every chunk it had read: 1.3-1.9 GB
 * in the receiving xl of a 2 GiB guest's migration, all of it faulted in fresh (330,000-490,000
 * minor faults). Here the failure has at most one listener, the current wait's, dropped when
 * the wait ends.
 */
export class FailureRace {
  #failure: { err: unknown } | undefined;
  #reject: ((err: unknown) => void) | undefined;

  /** `failed` rejecting is the failure; its fulfilling means none will come. */
  constructor(failed: Promise<unknown>) {
    failed.then(
      () => undefined,
      (err: unknown) => {
        this.#failure = { err };
        this.#reject?.(err);
      },
    );
  }

  /** `p`'s outcome, unless the failure comes first (or came already). One wait at a time. */
  wait<T>(p: Promise<T>): Promise<T> {
    if (this.#failure !== undefined) {
      p.catch(() => undefined);
      return Promise.reject(this.#failure.err);
    }
    return new Promise<T>((resolve, reject) => {
      this.#reject = reject;
      p.then(
        (v) => {
          this.#reject = undefined;
          resolve(v);
        },
        (err: unknown) => {
          this.#reject = undefined;
          reject(err);
        },
      );
    });
  }
}
