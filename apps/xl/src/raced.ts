/**
 * A wait that a failure signal can cut short, without `Promise.race`'s leak.
 *
 * `await Promise.race([next, failed])` in a loop adds a reaction to `failed` on every turn, and
 * while `failed` stays pending (it does for a whole transfer: QEMU has not failed) each reaction
 * keeps its race's result alive. Receiving RAM that way held every chunk it had read: 1.3-1.9 GB
 * in the receiving xl of a 2 GiB guest's migration. Here the signal has at most one listener
 * per wait, removed when the wait ends.
 */
export function raced<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined); // its outcome no longer matters
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const on = () => reject(signal.reason as Error);
    signal.addEventListener('abort', on, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', on);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', on);
        reject(e as Error);
      },
    );
  });
}
