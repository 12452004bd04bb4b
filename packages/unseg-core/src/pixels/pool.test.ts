import { bytePool, directionPool } from './pool.js';

describe('ArrayPool', () => {
  it('hands back a released array of the same length, and a new one otherwise', () => {
    const pool = directionPool(4);
    const a = pool.take(12);
    pool.give([a]);
    expect(pool.take(12)).toBe(a);
    expect(pool.take(12)).not.toBe(a);
    pool.give([a]);
    expect(pool.take(6)).not.toBe(a);
    expect(pool.take(6).length).toBe(6);
  });

  it('keeps at most its capacity', () => {
    const pool = directionPool(2);
    pool.give([new Float32Array(3), new Float32Array(3), new Float32Array(3)]);
    expect(pool.size).toBe(2);
    pool.take(3);
    pool.take(3);
    expect(pool.size).toBe(0);
  });

  it('makes arrays of its own kind', () => {
    const pool = bytePool(1);
    const a = pool.take(5);
    expect(a).toBeInstanceOf(Uint8Array);
    pool.give([a]);
    expect(pool.take(5)).toBe(a);
  });
});
