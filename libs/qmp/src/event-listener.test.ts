import { describe, expect, it } from 'vitest';
import { QmpInterruptedError, QmpProtocolError, QmpStateError, QmpTimeoutError } from './errors.js';
import { EventListener } from './event-listener.js';
import type { QmpEvent } from './types.js';

const ev = (event: string, data: Record<string, unknown> = {}): QmpEvent => ({
  event,
  data,
  timestamp: { seconds: 1, microseconds: 2 },
});

describe('EventListener', () => {
  it('ends itself when a consumer falls behind by more than maxQueued events, keeping what it held', async () => {
    const l = new EventListener('X', undefined, () => {}, 3);
    for (let i = 0; i < 5; i++) l.deliver(ev('X', { i }));
    expect(l.isClosed).toBe(true);
    expect(l.size).toBe(3);
    for (let i = 0; i < 3; i++) expect((await l.get()).data).toEqual({ i });
    await expect(l.get()).rejects.toBeInstanceOf(QmpProtocolError);
    await expect(new EventListener('X', undefined).get({ timeoutMs: 1 })).rejects.toBeInstanceOf(
      QmpTimeoutError,
    );
  });

  it('queues matching events in order and skips others', async () => {
    const l = new EventListener(['STOP', 'RESUME'], undefined);
    l.deliver(ev('STOP'));
    l.deliver(ev('SHUTDOWN'));
    l.deliver(ev('RESUME'));
    expect(l.size).toBe(2);
    expect((await l.get()).event).toBe('STOP');
    expect((await l.get()).event).toBe('RESUME');
  });

  it('applies the filter', async () => {
    const l = new EventListener('MIGRATION', (e) => e.data['status'] === 'completed');
    l.deliver(ev('MIGRATION', { status: 'active' }));
    l.deliver(ev('MIGRATION', { status: 'completed' }));
    expect(await l.get()).toMatchObject({ data: { status: 'completed' } });
    expect(l.size).toBe(0);
  });

  it('hands an event to a waiting reader', async () => {
    const l = new EventListener(undefined, undefined);
    const p = l.get();
    l.deliver(ev('X'));
    expect((await p).event).toBe('X');
  });

  it('times out get() and stays usable', async () => {
    const l = new EventListener('X', undefined);
    await expect(l.get({ timeoutMs: 10 })).rejects.toBeInstanceOf(QmpTimeoutError);
    l.deliver(ev('X'));
    expect((await l.get()).event).toBe('X');
  });

  it('ends iteration on close after draining the queue', async () => {
    const closed: EventListener[] = [];
    const l = new EventListener(undefined, undefined, (x) => closed.push(x));
    l.deliver(ev('A'));
    l.deliver(ev('B'));
    l.close();
    l.deliver(ev('C'));
    const seen: string[] = [];
    for await (const e of l) seen.push(e.event);
    expect(seen).toEqual(['A', 'B']);
    expect(closed).toEqual([l]);
  });

  it('rejects a pending get() with the end reason', async () => {
    const l = new EventListener('X', undefined);
    const p = l.get();
    l.end(new QmpInterruptedError('waitForEvent(X)'));
    await expect(p).rejects.toBeInstanceOf(QmpInterruptedError);
    await expect(l.get()).rejects.toBeInstanceOf(QmpInterruptedError);
    const closedByUser = new EventListener('Y', undefined);
    closedByUser.close();
    await expect(closedByUser.get()).rejects.toBeInstanceOf(QmpStateError);
  });

  it('closes itself when a for-await loop breaks', async () => {
    const l = new EventListener(undefined, undefined);
    l.deliver(ev('A'));
    l.deliver(ev('B'));
    for await (const e of l) {
      expect(e.event).toBe('A');
      break;
    }
    expect(l.isClosed).toBe(true);
  });
});
