import * as tf from '@tensorflow/tfjs';
import { areaDownsample, bilinearResize, resampleTo } from './resample.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const random = (n: number, seed: number) => {
  let a = seed;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32;
  });
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

test('area downsampling by whole factors is the block average (tf.avgPool), times the scale', () => {
  // 3 channels (images), 1 (prompts) and 2 (any other) take different loops; kx != ky too.
  for (const [w, h, c, kx, ky] of [
    [24, 16, 3, 4, 4],
    [24, 16, 1, 4, 2],
    [12, 18, 2, 3, 6],
  ] as const) {
    const src = random(w * h * c, w + c);
    const ours = areaDownsample(src, w, h, c, w / kx, h / ky, 0.5);
    const ref = tf.tidy(() => tf.mul(tf.avgPool(tf.tensor4d(src, [1, h, w, c]), [ky, kx], [ky, kx], 'valid'), 0.5).dataSync());
    expect(maxDiff(ours, ref)).toBeLessThan(1e-6);
  }
  // 8-bit input, as the pipeline passes its pixels.
  const bytes = Uint8Array.from({ length: 16 * 8 * 3 }, (_, i) => (i * 37) % 256);
  const ref = tf.tidy(() => tf.avgPool(tf.tensor4d(Float32Array.from(bytes), [1, 8, 16, 3]), 8, 8, 'valid').dataSync());
  expect(maxDiff(areaDownsample(bytes, 16, 8, 3, 2, 1), ref)).toBeLessThan(1e-4);
});

test('area downsampling by a fractional factor weights each source pixel by its overlap', () => {
  // 3 -> 2: output 0 covers [0, 1.5): pixel 0 fully and half of pixel 1.
  const out = areaDownsample(Float32Array.from([3, 6, 9]), 3, 1, 1, 2, 1);
  expect(out[0]).toBeCloseTo((3 + 0.5 * 6) / 1.5, 6);
  expect(out[1]).toBeCloseTo((0.5 * 6 + 9) / 1.5, 6);
  // A constant image stays constant at any factor.
  const flat = areaDownsample(new Float32Array(37 * 23 * 2).fill(7), 37, 23, 2, 11, 5);
  expect(maxDiff(flat, new Float32Array(11 * 5 * 2).fill(7))).toBeLessThan(1e-5);
});

test('bilinear resize matches tf.image.resizeBilinear with half-pixel centres, up and down', () => {
  for (const [w, h, ow, oh] of [
    [8, 6, 32, 24],
    [5, 7, 13, 9],
    [16, 16, 12, 10],
  ] as const) {
    const src = random(w * h * 3, w * 100 + h);
    const ours = bilinearResize(src, w, h, 3, ow, oh);
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(src, [1, h, w, 3]), [oh, ow], false, true).dataSync());
    expect(maxDiff(ours, ref)).toBeLessThan(1e-5);
    // Into a used array: every value is overwritten.
    const into = new Float32Array(ow * oh * 3).fill(Number.NaN);
    expect(bilinearResize(src, w, h, 3, ow, oh, into)).toBe(into);
    expect(maxDiff(into, ours)).toBe(0);
  }
  expect(() => bilinearResize(random(12, 1), 2, 2, 3, 4, 4, new Float32Array(5))).toThrow(/output has 5 values/);
});

/** bilinearResize as plain JavaScript, both passes: the values the kernel must give exactly. */
function referenceBilinear(src: Float32Array, w: number, h: number, c: number, ow: number, oh: number): Float32Array {
  const taps = (n: number, m: number) =>
    Array.from({ length: m }, (_, i) => {
      const f = Math.min(n - 1, Math.max(0, (i + 0.5) * (n / m) - 0.5));
      const lo = Math.floor(f);
      return { lo, hi: Math.min(n - 1, lo + 1), t: Math.fround(f - lo) };
    });
  const tx = taps(w, ow);
  const ty = taps(h, oh);
  const wide = new Float32Array(h * ow * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      for (let k = 0; k < c; k++) {
        const a = src[(y * w + tx[x]!.lo) * c + k]!;
        wide[(y * ow + x) * c + k] = a + (src[(y * w + tx[x]!.hi) * c + k]! - a) * tx[x]!.t;
      }
    }
  }
  const out = new Float32Array(oh * ow * c);
  const row = ow * c;
  for (let y = 0; y < oh; y++) {
    for (let i = 0; i < row; i++) {
      const a = wide[ty[y]!.lo * row + i]!;
      out[y * row + i] = a + (wide[ty[y]!.hi * row + i]! - a) * ty[y]!.t;
    }
  }
  return out;
}

test('bilinear upsampling gives exactly the plain JavaScript values (the row pass runs in WebAssembly)', () => {
  // 8x as the generator's noise is enlarged; rows whose length is no multiple of 4 values; enough
  // output rows for several batches; and a row too long for the kernel's region (the fallback).
  for (const [w, h, ow, oh, c] of [
    [16, 16, 128, 128, 3],
    [5, 7, 13, 9, 3],
    [3, 40, 7, 700, 1],
    [4, 2, 30000, 3, 3],
  ] as const) {
    const src = random(w * h * c, ow + oh).map((v) => v * 2 - 1);
    const ours = bilinearResize(src, w, h, c, ow, oh);
    expect(Buffer.from(ours.buffer).equals(Buffer.from(referenceBilinear(src, w, h, c, ow, oh).buffer))).toBe(true);
  }
});

test('resampleTo copies at equal size, shrinks by area, and enlarges a small image bilinearly', () => {
  const src = Uint8Array.from({ length: 4 * 4 }, (_, i) => i * 10);
  expect([...resampleTo(src, 4, 4, 1, 4, 4, 0.1)].map((v) => Math.round(v * 10) / 10)).toEqual([...src].map((v) => v / 10));
  expect(resampleTo(src, 4, 4, 1, 2, 2)[0]).toBeCloseTo((0 + 10 + 40 + 50) / 4, 5);
  expect(resampleTo(src, 4, 4, 1, 8, 8)).toHaveLength(64);
  expect(() => areaDownsample(src, 4, 4, 1, 8, 2)).toThrow(/not a shrink/);
});
