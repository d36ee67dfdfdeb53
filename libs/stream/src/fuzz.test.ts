import { describe, expect, test } from 'vitest';
import { checkCase, corpus, prng, randomMutation, systematicMutations } from './testing/fuzz.js';

describe('stream fuzz tests (bounded pass)', () => {
  for (const entry of corpus()) {
    test(`corpus ${entry.name} is valid, whole and split`, async () => {
      expect(await checkCase(entry.bytes, [], entry.checkpointed)).toBe('ok');
      expect(await checkCase(entry.bytes, [1, 9, 17, 33, 100], entry.checkpointed)).toBe('ok');
    });

    test(`systematic mutations of ${entry.name}: valid or StreamError, never a crash`, async () => {
      const codes = new Map<string, number>();
      let n = 0;
      for (const [name, m] of systematicMutations(entry.bytes)) {
        const code = await checkCase(m, [], entry.checkpointed).catch((e: unknown) => {
          throw new Error(`${entry.name} ${name}: ${String(e)}`);
        });
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (name.startsWith('truncate@')) expect(code, name).toBe('STREAM_TRUNCATED');
        n++;
      }
      expect(n).toBeGreaterThan(entry.bytes.length);
      expect(codes.get('STREAM_TRUNCATED')).toBeGreaterThan(0);
    });
  }

  test('random mutations with random splits (seeded)', async () => {
    const seed = 20261122;
    const rand = prng(seed);
    const entries = corpus();
    for (let i = 0; i < 1500; i++) {
      const e = entries[i % entries.length]!;
      const m = randomMutation(e.bytes, rand);
      const cuts = Array.from({ length: Math.floor(rand() * 5) }, () => Math.floor(rand() * m.length));
      await expect(checkCase(m, cuts, e.checkpointed), `seed ${seed} case ${i}`).resolves.toBeTypeOf(
        'string',
      );
    }
  });
});
