import { createNoNoiseSource, createUniformNoiseSource } from './baseline.js';

const request = (id: string, width = 7, height = 5) => ({
  id,
  image: { width, height, data: new Uint8Array(width * height * 3) },
  prompt: { width, height, data: new Uint8Array(width * height) },
});

test('uniform noise: 256 levels strictly inside (-1, 1), centred, the same for an id, different across ids', async () => {
  const source = createUniformNoiseSource({ seed: 3 });
  const [a, again, b] = await source.generate([request('a', 64, 64), request('a', 64, 64), request('b', 64, 64)]);
  expect(a).toEqual(again);
  expect(a).not.toEqual(b);
  const levels = new Set(a);
  expect(levels.size).toBeLessThanOrEqual(256);
  expect(levels.size).toBeGreaterThan(250); // 12,288 draws reach nearly every level
  let sum = 0;
  for (const v of a!) {
    expect(v).toBeGreaterThan(-1);
    expect(v).toBeLessThan(1);
    expect(Math.round((v + 1) * 128 - 0.5)).toBeCloseTo((v + 1) * 128 - 0.5, 4);
    sum += v;
  }
  expect(Math.abs(sum / a!.length)).toBeLessThan(0.03);
  const otherSeed = await createUniformNoiseSource({ seed: 4 }).generate([request('a', 64, 64)]);
  expect(otherSeed[0]).not.toEqual(a);
});

test('uniform noise reuses released arrays and writes the same values into them', async () => {
  const pooled = createUniformNoiseSource({ seed: 9 });
  const [first] = await pooled.generate([request('a', 32, 16)]);
  pooled.release!([first!]);
  const [second] = await pooled.generate([request('b', 32, 16)]);
  expect(second).toBe(first);
  const [fresh] = await createUniformNoiseSource({ seed: 9 }).generate([request('b', 32, 16)]);
  expect(Array.from(second!)).toEqual(Array.from(fresh!));
  // Within one batch every image gets its own array, even when fewer were released.
  pooled.release!([second!]);
  const [x, y] = await pooled.generate([request('c', 32, 16), request('d', 32, 16)]);
  expect(x).not.toBe(y);
});

test('no noise: zero directions, also in an array handed back dirty', async () => {
  const source = createNoNoiseSource();
  const [first] = await source.generate([request('a', 8, 4)]);
  expect(first!.every((v) => v === 0)).toBe(true);
  first!.fill(0.5);
  source.release!([first!]);
  const [second] = await source.generate([request('b', 8, 4)]);
  expect(second).toBe(first);
  expect(second!.every((v) => v === 0)).toBe(true);
});
