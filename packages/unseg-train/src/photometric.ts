import * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng.js';

/**
 * Photometric jitter of x + noise before S sees it, after mmsegmentation's PhotoMetricDistortion
 * (each step with probability `prob`): brightness +-`brightness`, contrast and saturation
 * factors in [lo, hi], hue rotated by up to +-`hueDegrees`. Downstream trainers apply it, and a
 * noise that is only a colour code is washed out by it (measured: an LM-off generator's copy
 * kept 0.88 of clean mIoU without the jitter and 0.96 with it), so G must meet it in training.
 */
export interface PhotometricOptions {
  readonly prob: number;
  /** In units of the [0, 1] image range (32/255 in mmsegmentation). */
  readonly brightness: number;
  readonly contrast: readonly [number, number];
  readonly saturation: readonly [number, number];
  readonly hueDegrees: number;
}

export const DEFAULT_PHOTOMETRIC: PhotometricOptions = {
  prob: 0.5,
  brightness: 32 / 255,
  contrast: [0.5, 1.5],
  saturation: [0.5, 1.5],
  hueDegrees: 36,
};

/** One image's draw (IDENTITY_JITTER is the one that changes nothing). */
export interface JitterParams {
  readonly brightness: number;
  readonly contrast: number;
  readonly saturation: number;
  readonly hueDegrees: number;
}

export const IDENTITY_JITTER: JitterParams = { brightness: 0, contrast: 1, saturation: 1, hueDegrees: 0 };

export function drawJitter(options: PhotometricOptions, rng: Rng): JitterParams {
  const maybe = (f: () => number, identity: number) => (rng.next() < options.prob ? f() : identity);
  return {
    brightness: maybe(() => rng.uniform(-options.brightness, options.brightness), 0),
    contrast: maybe(() => rng.uniform(options.contrast[0], options.contrast[1]), 1),
    saturation: maybe(() => rng.uniform(options.saturation[0], options.saturation[1]), 1),
    hueDegrees: maybe(() => rng.uniform(-options.hueDegrees, options.hueDegrees), 0),
  };
}

// RGB <-> YIQ: hue is a rotation of the (I, Q) chroma plane, saturation a scaling of it.
const RGB_TO_YIQ = [
  [0.299, 0.587, 0.114],
  [0.596, -0.274, -0.322],
  [0.211, -0.523, 0.312],
];

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m as [[number, number, number], [number, number, number], [number, number, number]];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}
const YIQ_TO_RGB = invert3(RGB_TO_YIQ);

const mul3 = (p: number[][], q: number[][]) => p.map((row) => q[0]!.map((_, j) => row.reduce((s, v, k) => s + v * q[k]![j]!, 0)));

/** The 3x3 colour matrix of one draw's saturation and hue (acting on RGB column vectors). */
export function colourMatrix(saturation: number, hueDegrees: number): number[][] {
  const t = (hueDegrees * Math.PI) / 180;
  const [cos, sin] = [Math.cos(t), Math.sin(t)];
  const chroma = [
    [1, 0, 0],
    [0, saturation * cos, -saturation * sin],
    [0, saturation * sin, saturation * cos],
  ];
  return mul3(YIQ_TO_RGB, mul3(chroma, RGB_TO_YIQ));
}

/**
 * Applies one draw per image to a [n, h, w, 3] batch in [0, 1]: brightness, contrast, then the
 * saturation / hue matrix, clipped to [0, 1]. Differentiable, so G's gradient passes through it.
 */
export function applyJitter(x: tf.Tensor4D, params: readonly JitterParams[]): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (params.length !== n) throw new RangeError(`${params.length} jitter draws for a batch of ${n}`);
  return tf.tidy(() => {
    const b = tf.tensor4d(params.map((p) => p.brightness), [n, 1, 1, 1]);
    const c = tf.tensor4d(params.map((p) => p.contrast), [n, 1, 1, 1]);
    const y = x.add(b).mul(c);
    // Row vectors: pixel' = pixel . M^T, batched over images.
    const mt = tf.tensor3d(transposedMatrices(params), [n, 3, 3]);
    const z = tf.matMul(y.reshape([n, h * w, 3]), mt).reshape([n, h, w, 3]);
    return z.clipByValue(0, 1) as tf.Tensor4D;
  });
}

function transposedMatrices(params: readonly JitterParams[]): number[] {
  const out: number[] = [];
  for (const p of params) {
    const m = colourMatrix(p.saturation, p.hueDegrees);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out.push(m[j]![i]!);
  }
  return out;
}
