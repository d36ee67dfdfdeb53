import { describe, expect, it } from 'vitest';
import { within } from './deadline.js';

describe('within', () => {
  it('passes a value that comes in time through', async () => {
    await expect(within(Promise.resolve(7), 1_000, 'waiting')).resolves.toBe(7);
  });

  it('gives up on a silent peer with an XL_MIGRATION error naming what it waited for', async () => {
    await expect(within(new Promise(() => undefined), 20, 'waiting for the go-ahead')).rejects.toMatchObject({
      code: 'XL_MIGRATION',
      message: 'waiting for the go-ahead: nothing came for 0.02 s',
    });
  });
});
