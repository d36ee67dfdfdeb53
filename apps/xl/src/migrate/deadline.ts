/**
 * The switch-over exchanges (GO, the report) take a moment when both ends are healthy; a peer
 * that goes silent there (a network partition under ssh) must not hold either end forever.
 */
import { XlError } from '../errors.js';

/** How long the switch-over waits for the other end's next message. */
/** How long a receiver gets to exit (and clean up) after the pipe closes. */
export const RECEIVER_GRACE_MS = 20_000;

export const SWITCHOVER_TIMEOUT_MS = 60_000;

export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new XlError('XL_MIGRATION', `${what}: nothing came for ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `p` to settle (fulfilled or rejected), but at most `ms`; true when it settled in time. */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}
