import * as tf from '@tensorflow/tfjs';
import { applyJitter, colourMatrix, drawJitter, DEFAULT_PHOTOMETRIC, IDENTITY_JITTER as IDENTITY } from './photometric.js';
import { Rng } from './rng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const batch = () => tf.tensor4d(Float32Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => ((i * 37) % 101) / 100), [2, 4, 4, 3]);
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]!);

test('the identity draw leaves the batch unchanged; a full hue turn is the identity too', () => {
  const x = batch();
  expect(maxDiff(applyJitter(x, [IDENTITY, IDENTITY]), x)).toBeLessThan(1e-6);
  expect(maxDiff(applyJitter(x, [{ ...IDENTITY, hueDegrees: 360 }, IDENTITY]), x)).toBeLessThan(1e-5);
});

test('saturation 0 makes every pixel grey (equal channels) and keeps its luma', () => {
  const x = batch();
  const y = applyJitter(x, [{ ...IDENTITY, saturation: 0 }, IDENTITY]);
  const px = y.slice([0, 0, 0, 0], [1, 4, 4, 3]).reshape([16, 3]).arraySync() as number[][];
  const src = x.slice([0, 0, 0, 0], [1, 4, 4, 3]).reshape([16, 3]).arraySync() as number[][];
  px.forEach((p, i) => {
    expect(p[1]).toBeCloseTo(p[0]!, 5);
    expect(p[2]).toBeCloseTo(p[0]!, 5);
    const [r, g, b] = src[i]!;
    expect(p[0]).toBeCloseTo(0.299 * r! + 0.587 * g! + 0.114 * b!, 4);
  });
  // The second image had the identity draw: draws are per image.
  expect(maxDiff(y.slice([1, 0, 0, 0], [1, 4, 4, 3]), x.slice([1, 0, 0, 0], [1, 4, 4, 3]))).toBeLessThan(1e-6);
});

test('brightness and contrast act as x -> (x + b) * c, clipped to [0, 1]', () => {
  const x = batch();
  const y = applyJitter(x, [{ ...IDENTITY, brightness: 0.1, contrast: 1.2 }, { ...IDENTITY, brightness: 2 }]);
  const expected = tf.tidy(() => x.slice([0, 0, 0, 0], [1, 4, 4, 3]).add(0.1).mul(1.2).clipByValue(0, 1));
  expect(maxDiff(y.slice([0, 0, 0, 0], [1, 4, 4, 3]), expected)).toBeLessThan(1e-5);
  expect(y.slice([1, 0, 0, 0], [1, 4, 4, 3]).min().dataSync()[0]).toBe(1);
});

test('the colour matrix rotates hue without changing luma; draws follow the options', () => {
  const m = colourMatrix(1, 90);
  const luma = [0.299, 0.587, 0.114];
  // Luma of M * v equals luma of v for any v: the first row of YIQ is untouched.
  const v = [0.2, 0.5, 0.9];
  const mv = m.map((row) => row.reduce((s, a, k) => s + a * v[k]!, 0));
  expect(luma.reduce((s, a, k) => s + a * mv[k]!, 0)).toBeCloseTo(luma.reduce((s, a, k) => s + a * v[k]!, 0), 6);
  expect(mv).not.toEqual(v);
  const rng = new Rng(5);
  const draws = Array.from({ length: 200 }, () => drawJitter(DEFAULT_PHOTOMETRIC, rng));
  expect(draws.some((d) => d.brightness === 0) && draws.some((d) => d.brightness !== 0)).toBe(true);
  for (const d of draws) {
    expect(Math.abs(d.brightness)).toBeLessThanOrEqual(32 / 255);
    expect(d.contrast).toBeGreaterThanOrEqual(0.5);
    expect(d.contrast).toBeLessThanOrEqual(1.5);
    expect(Math.abs(d.hueDegrees)).toBeLessThanOrEqual(36);
  }
});

test('gradients pass through the jitter to the input', () => {
  const x = batch();
  const g = tf.grad((t: tf.Tensor) => applyJitter(t as tf.Tensor4D, [{ brightness: 0.01, contrast: 0.9, saturation: 0.7, hueDegrees: 20 }, IDENTITY]).sum())(x);
  expect(g.abs().sum().dataSync()[0]).toBeGreaterThan(0);
});
