/**
 * The switch-over exchanges (GO, the report) take a moment when both ends are healthy; a peer
 * that goes silent there (a network partition under ssh) must not hold either end forever.
 */
import { XlError } from '../errors.js';

/** How long a receiver gets to exit (and clean up) after the pipe closes. */
export const RECEIVER_GRACE_MS = 20_000;

/** How long the switch-over waits for the other end's next message. */
export const SWITCHOVER_TIMEOUT_MS = 60_000;

export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new XlError('XL_MIGRATION', `${what}: nothing came for ${ms / 1000} s`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
