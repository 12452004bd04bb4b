/**
 * Maps an async iterable with at most `concurrency` calls of `fn` in flight, yielding results in
 * input order. It pulls the next input only when a slot is free, so a slow consumer holds back
 * the producer (backpressure) and memory stays bounded by `concurrency` items (plus one input
 * being pulled). A finished result is yielded without waiting for the next input: a reader that
 * stalls (a slow mount, a stuck plugin) must not hold back work that is already done.
 */
export async function* mapOrdered<T, U>(
  source: AsyncIterable<T>,
  fn: (item: T) => Promise<U>,
  concurrency: number,
): AsyncGenerator<U> {
  if (!(concurrency >= 1)) throw new RangeError(`concurrency must be >= 1, got ${concurrency}`);
  const iterator = source[Symbol.asyncIterator]();
  const pending: Promise<U>[] = [];
  let pull: Promise<IteratorResult<T>> | undefined;
  let done = false;
  try {
    for (;;) {
      while (!done && pending.length < concurrency) {
        pull ??= iterator.next();
        const next = pending.length === 0 ? await pull : await Promise.race([pull, settled(pending[0]!)]);
        if (next === HEAD_SETTLED) break;
        pull = undefined;
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
    if (!done) await closeSource(iterator, pull);
  }
}

const HEAD_SETTLED = Symbol('head settled');
const settled = (p: Promise<unknown>): Promise<typeof HEAD_SETTLED> => p.then(() => HEAD_SETTLED, () => HEAD_SETTLED);

/**
 * Ends a source left early (the consumer stopped, or an error). A source with a pull in flight
 * can only be returned once that pull settles: the stop waits for that up to a second, and a
 * slower pull gets its return() when it settles, so that the source's cleanup still runs; one
 * that never settles (a stuck reader) does not hang the stop.
 */
async function closeSource<T>(iterator: AsyncIterator<T>, pull: Promise<IteratorResult<T>> | undefined): Promise<void> {
  const close = async () => {
    await iterator.return?.();
  };
  if (!pull) return close();
  await withIdle(pull.then(close, close).catch(() => undefined), 1000);
}

/**
 * Groups an async iterable into arrays of at most `size` items. With `idleMs`, a partial group is
 * also handed on once no item has come for that long, so that items already in hand are not held
 * back by a source that stalls.
 */
export async function* batches<T>(source: AsyncIterable<T>, size: number, idleMs = Infinity): AsyncGenerator<T[]> {
  if (!(size >= 1)) throw new RangeError(`batch size must be >= 1, got ${size}`);
  const iterator = source[Symbol.asyncIterator]();
  let batch: T[] = [];
  let pull: Promise<IteratorResult<T>> | undefined;
  let done = false;
  try {
    for (;;) {
      pull ??= iterator.next();
      const next = batch.length > 0 && Number.isFinite(idleMs) ? await withIdle(pull, idleMs) : await pull;
      if (next === IDLE) {
        yield batch;
        batch = [];
        continue;
      }
      pull = undefined;
      if (next.done) {
        done = true;
        break;
      }
      batch.push(next.value);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    if (!done) await closeSource(iterator, pull);
  }
}

const IDLE = Symbol('idle');
/** `p`'s value, or IDLE if it has not settled within `ms`. */
async function withIdle<T>(p: Promise<T>, ms: number): Promise<T | typeof IDLE> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<typeof IDLE>((resolve) => (timer = setTimeout(() => resolve(IDLE), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
