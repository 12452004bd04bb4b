import { batches, mapOrdered } from './streams.js';

async function* count(n: number, pulled: number[]) {
  for (let i = 0; i < n; i++) {
    pulled.push(i);
    yield i;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('mapOrdered', () => {
  it('keeps input order although later items finish first', async () => {
    const out: number[] = [];
    for await (const v of mapOrdered(count(6, []), async (i) => {
      await sleep((6 - i) * 3);
      return i * 10;
    }, 3)) out.push(v);
    expect(out).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('never has more than `concurrency` calls in flight and pulls lazily', async () => {
    let inFlight = 0;
    let peak = 0;
    const pulled: number[] = [];
    const it = mapOrdered(count(100, pulled), async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(1);
      inFlight--;
      return i;
    }, 4);
    let seen = 0;
    for await (const _ of it) {
      if (++seen === 10) break;
    }
    expect(peak).toBeLessThanOrEqual(4);
    // Backpressure: after consuming 10 items, at most 10 + 4 were pulled from the source.
    expect(pulled.length).toBeLessThanOrEqual(14);
  });

  it('surfaces a rejection at its position', async () => {
    const out: number[] = [];
    await expect(async () => {
      for await (const v of mapOrdered(count(5, []), async (i) => {
        if (i === 2) throw new Error('boom');
        return i;
      }, 2)) out.push(v);
    }).rejects.toThrow('boom');
    expect(out).toEqual([0, 1]);
  });
});

describe('batches', () => {
  it('groups and flushes the remainder', async () => {
    const out: number[][] = [];
    for await (const b of batches(count(7, []), 3)) out.push(b);
    expect(out).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });
});

/** Yields `n` items, then never another (a stuck reader). */
async function* stalling(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
  await new Promise(() => undefined);
}

describe('a source that stalls', () => {
  it('mapOrdered yields the results it has without waiting for the next input', async () => {
    const it = mapOrdered(stalling(2), async (i) => i * 10, 4);
    expect(await it.next()).toEqual({ done: false, value: 0 });
    expect(await it.next()).toEqual({ done: false, value: 10 });
    // Stopping while the source is stuck does not hang.
    await expect(it.return(undefined)).resolves.toEqual({ done: true, value: undefined });
  });

  it('batches hands on a partial group after idleMs, and only with idleMs', async () => {
    const it = batches(stalling(2), 8, 50);
    const t0 = Date.now();
    expect(await it.next()).toEqual({ done: false, value: [0, 1] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    await it.return(undefined);
    const without = batches(stalling(2), 8);
    const first = await Promise.race([without.next(), sleep(200).then(() => 'waiting')]);
    expect(first).toBe('waiting');
  });

  it('batches keeps full groups when items come in time', async () => {
    async function* slow() {
      for (let i = 0; i < 5; i++) {
        await sleep(5);
        yield i;
      }
    }
    const out: number[][] = [];
    for await (const b of batches(slow(), 2, 1000)) out.push(b);
    expect(out).toEqual([[0, 1], [2, 3], [4]]);
  });
});

describe('stopping while a pull is slow', () => {
  it("does not wait for it longer than a second, but still closes the source once the pull settles", async () => {
    let closed = false;
    async function* slowSecond() {
      try {
        yield 0;
        await sleep(1500);
        yield 1;
      } finally {
        closed = true;
      }
    }
    const it = mapOrdered(slowSecond(), async (i) => i, 2);
    expect(await it.next()).toEqual({ done: false, value: 0 });
    const t0 = Date.now();
    await it.return(undefined);
    expect(Date.now() - t0).toBeLessThan(1400);
    expect(closed).toBe(false);
    await sleep(700);
    expect(closed).toBe(true);
  });
});
