import { setImmediate as turn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { FailureRace } from './failure-race.js';

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

describe('FailureRace', () => {
  it('passes on the outcome of what it waits for', async () => {
    const race = new FailureRace(new Promise(() => undefined));
    await expect(race.wait(Promise.resolve(7))).resolves.toBe(7);
    await expect(race.wait(Promise.reject(new Error('read failed')))).rejects.toThrow('read failed');
  });

  it('cuts a pending wait short with the failure, and every later one at once', async () => {
    let fail!: (err: Error) => void;
    const race = new FailureRace(new Promise((_, reject) => (fail = reject)));
    const pending = race.wait(new Promise(() => undefined));
    fail(new Error('QEMU failed'));
    await expect(pending).rejects.toThrow('QEMU failed');
    await expect(race.wait(Promise.resolve(1))).rejects.toThrow('QEMU failed');
  });

  it('is never cut short when the watched promise fulfils', async () => {
    const race = new FailureRace(Promise.resolve('completed'));
    await turn();
    await expect(race.wait(Promise.resolve('chunk'))).resolves.toBe('chunk');
  });

  it('keeps nothing it waited for alive while the failure stays pending', async () => {
    let race: FailureRace | undefined;
    expect(
      await collected((failed, p) => {
        race ??= new FailureRace(failed);
        return race.wait(p);
      }),
    ).toBe(true);
    // What it replaces: each race leaves a reaction on the pending promise holding its result.
    expect(await collected((failed, p) => Promise.race([p, failed]))).toBe(false);
  });
});
