import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { IDLE, withIdleMarks } from './idle-marks.js';

async function* timed(items: [number, string][]): AsyncGenerator<string> {
  for (const [delay, v] of items) {
    await sleep(delay);
    yield v;
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('withIdleMarks', () => {
  it('marks each gap longer than the threshold once, and nothing where items come quickly', async () => {
    const got = await collect(
      withIdleMarks(
        timed([
          [0, 'a'],
          [0, 'b'],
          [60, 'c'],
          [0, 'd'],
          [120, 'e'],
        ]),
        25,
      ),
    );
    expect(got).toEqual(['a', 'b', IDLE, 'c', 'd', IDLE, 'e']);
  });

  it('passes a synchronous input through unmarked', async () => {
    expect(await collect(withIdleMarks(['x', 'y'], 1000))).toEqual(['x', 'y']);
  });

  it('a failure of the input reaches the consumer, also one that happens while the consumer is busy after a mark', async () => {
    async function* failing(): AsyncGenerator<string> {
      yield 'a';
      await sleep(40);
      throw new Error('socket reset');
    }
    const read = async () => {
      for await (const x of withIdleMarks(failing(), 10)) {
        if (x === IDLE) await sleep(60); // busy (say, waiting for credit) while the input fails
      }
    };
    await expect(read()).rejects.toThrow(/socket reset/);
  });

  it('a consumer that stops at a mark does not wait for a quiet input', async () => {
    // A real async generator queues return() behind its pending next(), which never settles.
    async function* quiet(): AsyncGenerator<string> {
      yield* [];
      await new Promise(() => undefined);
    }
    let marks = 0;
    for await (const x of withIdleMarks(quiet(), 5)) {
      if (x === IDLE) {
        marks += 1;
        break;
      }
    }
    expect(marks).toBe(1);
  });
});
