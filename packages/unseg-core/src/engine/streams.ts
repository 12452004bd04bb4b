/**
 * Maps an async iterable with at most `concurrency` calls of `fn` in flight, yielding results in
 * input order. It pulls the next input only when a slot is free, so a slow consumer holds back
 * the producer (backpressure) and memory stays bounded by `concurrency` items.
 */
export async function* mapOrdered<T, U>(
  source: AsyncIterable<T>,
  fn: (item: T) => Promise<U>,
  concurrency: number,
): AsyncGenerator<U> {
  if (!(concurrency >= 1)) throw new RangeError(`concurrency must be >= 1, got ${concurrency}`);
  const iterator = source[Symbol.asyncIterator]();
  const pending: Promise<U>[] = [];
  let done = false;
  try {
    for (;;) {
      while (!done && pending.length < concurrency) {
        const next = await iterator.next();
        if (next.done) {
          done = true;
          break;
        }
        const p = fn(next.value);
        // A rejection is observed when its turn comes; mark it handled so Node does not abort first.
        p.catch(() => undefined);
        pending.push(p);
      }
      const head = pending.shift();
      if (head === undefined) return;
      yield await head;
    }
  } finally {
    if (!done) await iterator.return?.();
  }
}

/** Groups an async iterable into arrays of at most `size` items. */
export async function* batches<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  if (!(size >= 1)) throw new RangeError(`batch size must be >= 1, got ${size}`);
  let batch: T[] = [];
  for await (const item of source) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
