import { describe, expect, it } from 'vitest';
import { RAM_CREDIT_WINDOW, RamCredit } from './ram-credit.js';

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('RamCredit (sender side of ram-credit)', () => {
  it('takes credit it holds at once and waits for a grant when it lacks it', async () => {
    const c = new RamCredit();
    c.grant(6);
    await c.acquire(4);
    expect(c.available).toBe(2);
    const waiting = c.acquire(4);
    expect(await settled(waiting)).toBe(false);
    c.grant(1);
    expect(await settled(waiting)).toBe(false);
    c.grant(1);
    expect(await settled(waiting)).toBe(true);
    expect(c.available).toBe(0);
  });

  it('serves waiters in order: a small request never overtakes a large one', async () => {
    const c = new RamCredit();
    const order: string[] = [];
    const big = c.acquire(10).then(() => order.push('big'));
    const small = c.acquire(1).then(() => order.push('small'));
    c.grant(5);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    c.grant(6);
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
  });

  it('ends every wait when the migration fails, and refuses a chunk larger than the window', async () => {
    const failure = new AbortController();
    const c = new RamCredit(failure.signal);
    const waiting = c.acquire(1);
    failure.abort(new Error('receiver gone'));
    await expect(waiting).rejects.toThrow('receiver gone');
    await expect(c.acquire(1)).rejects.toThrow('receiver gone');
    await expect(new RamCredit().acquire(RAM_CREDIT_WINDOW + 1)).rejects.toThrow(/exceeds the credit window/);
  });
});
