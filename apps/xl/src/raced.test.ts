import { setImmediate as turn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { raced } from './raced.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Whether the values `waitOn` resolved with are collected after `waitOn` resolved with it, while `failed` stays pending. */
async function collected(
  waitOn: (failed: Promise<never>, p: Promise<object>) => Promise<object>,
): Promise<boolean> {
  const failed = new Promise<never>(() => undefined);
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < 20; i++) {
    const value = { payload: Buffer.alloc(1024) };
    refs.push(new WeakRef(value));
    await waitOn(failed, Promise.resolve(value));
  }
  await turn();
  gc();
  await turn();
  gc();
  // The last value may still sit in this function's frame; the ones before it must be gone.
  return refs.slice(0, -1).every((r) => r.deref() === undefined);
}

/** A signal aborted with `err` when `failed` rejects (as the RAM receiver builds it). */
function signalOf(failed: Promise<unknown>): AbortSignal {
  const c = new AbortController();
  failed.catch((err: unknown) => c.abort(err));
  return c.signal;
}

describe('raced', () => {
  it('passes on the outcome of what it waits for', async () => {
    const signal = signalOf(new Promise(() => undefined));
    await expect(raced(Promise.resolve(7), signal)).resolves.toBe(7);
    await expect(raced(Promise.reject(new Error('read failed')), signal)).rejects.toThrow('read failed');
  });

  it('cuts a pending wait short with the failure, and every later one at once', async () => {
    let fail!: (err: Error) => void;
    const signal = signalOf(new Promise((_, reject) => (fail = reject)));
    const pending = raced(new Promise(() => undefined), signal);
    fail(new Error('QEMU failed'));
    await expect(pending).rejects.toThrow('QEMU failed');
    await expect(raced(Promise.resolve(1), signal)).rejects.toThrow('QEMU failed');
  });

  it('is never cut short when the watched promise fulfils', async () => {
    const signal = signalOf(Promise.resolve('completed'));
    await turn();
    await expect(raced(Promise.resolve('chunk'), signal)).resolves.toBe('chunk');
  });

  it('keeps nothing it waited for alive while the failure stays pending', async () => {
    let signal: AbortSignal | undefined;
    expect(
      await collected((failed, p) => {
        signal ??= signalOf(failed);
        return raced(p, signal);
      }),
    ).toBe(true);
    // What it replaces: each race leaves a reaction on the pending promise holding its result.
    expect(await collected((failed, p) => Promise.race([p, failed]))).toBe(false);
  });
});
