/**
 * An input's items with a mark wherever it went quiet: IDLE is yielded once whenever the next
 * item took longer than `ms` to arrive (then the item, when it comes). The timer runs on the
 * event loop's clock, so on a busy loop a mark can also come a little early: the consumer
 * then hands on a smaller batch, nothing more. Lets a consumer that
 * batches (RAM framing) hand on a partial batch while its source is slow, instead of holding
 * it until the batch fills.
 */
export const IDLE: unique symbol = Symbol('idle');

export async function* withIdleMarks<T>(
  input: AsyncIterable<T> | Iterable<T>,
  ms: number,
): AsyncGenerator<T | typeof IDLE> {
  if (!(ms > 0)) throw new RangeError(`withIdleMarks: expected a positive number of milliseconds, got ${ms}`);
  const it: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in input ? input[Symbol.asyncIterator]() : input[Symbol.iterator]();
  let finished = false;
  let outstanding = false;
  try {
    for (;;) {
      const next = Promise.resolve(it.next());
      outstanding = true;
      // Handled here so a failure while the consumer is busy with IDLE is not an unhandled rejection; awaited below.
      next.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<typeof IDLE>((resolve) => (timer = setTimeout(resolve, ms, IDLE)));
      let first: IteratorResult<T> | typeof IDLE;
      try {
        first = await Promise.race([next, idle]);
      } finally {
        clearTimeout(timer);
      }
      if (first === IDLE) yield IDLE;
      const r = first === IDLE ? await next : first;
      outstanding = false;
      if (r.done === true) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // Stopped at IDLE, an item may still be on its way: ask the input to end without waiting
    // for that item (a quiet socket may never deliver it).
    if (!finished && outstanding) void Promise.resolve(it.return?.()).catch(() => undefined);
    else if (!finished) await it.return?.();
  }
}
