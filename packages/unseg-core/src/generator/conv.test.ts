import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backend.js';
import { conv2dSame } from './conv.js';

async function gradsOf(custom: boolean, xv: number[], wv: number[], xs: [number, number, number, number], ws: [number, number, number, number]) {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, xs);
    const w = tf.tensor4d(wv, ws);
    // A non-uniform upstream gradient, so that a transposed or flipped result cannot pass.
    const r = tf.range(0, xs[0] * xs[1] * xs[2] * ws[3]).reshape([xs[0], xs[1], xs[2], ws[3]]).sin();
    const f = (a: tf.Tensor, b: tf.Tensor) => conv2dSame(a as tf.Tensor4D, b as tf.Tensor4D, { customGrad: custom }).mul(r).sum();
    const [dx, dw] = tf.grads(f)([x, w]);
    const y = conv2dSame(x, w, { customGrad: custom });
    return [Array.from(y.dataSync()), Array.from(dx!.dataSync()), Array.from(dw!.dataSync())];
  });
}

function maxDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}

const cases: [string, [number, number, number, number], [number, number, number, number]][] = [
  ['3x3, 2 images, 3 -> 4 channels', [2, 6, 5, 3], [3, 3, 3, 4]],
  ['1x1 head', [2, 4, 4, 5], [1, 1, 5, 2]],
  ['5x5 kernel', [1, 7, 7, 2], [5, 5, 2, 3]],
];

describe('conv2dSame custom gradient', () => {
  afterAll(async () => {
    await selectBackend('cpu');
  });
  for (const [name, xs, ws] of cases) {
    it(`matches the cpu backend's built-in gradients (${name})`, async () => {
      await selectBackend('cpu');
      const xv = Array.from({ length: xs.reduce((a, b) => a * b) }, (_, i) => Math.cos(i * 0.37));
      const wv = Array.from({ length: ws.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.91 + 0.3));
      const [yRef, dxRef, dwRef] = await gradsOf(false, xv, wv, xs, ws);
      const [y, dx, dw] = await gradsOf(true, xv, wv, xs, ws);
      expect(maxDiff(y!, yRef!)).toBeLessThan(1e-5);
      expect(maxDiff(dx!, dxRef!)).toBeLessThan(1e-4);
      expect(maxDiff(dw!, dwRef!)).toBeLessThan(1e-4);
      // And on wasm, where the built-in filter gradient does not exist, the custom one agrees too.
      await selectBackend('wasm');
      const [yW, dxW, dwW] = await gradsOf(true, xv, wv, xs, ws);
      expect(maxDiff(yW!, yRef!)).toBeLessThan(1e-4);
      expect(maxDiff(dxW!, dxRef!)).toBeLessThan(1e-4);
      expect(maxDiff(dwW!, dwRef!)).toBeLessThan(1e-4);
      await selectBackend('cpu');
    });
  }
  // tfjs has no gradient for dilated conv2d: compare with the plain conv of the zero-inserted
  // (expanded) kernel, whose gradient at the taps is the dilated kernel's gradient.
  for (const [k, d] of [[3, 2], [3, 3], [5, 2]] as const) {
    it(`dilation ${d}, ${k}x${k}: value and both gradients match the expanded kernel's`, async () => {
      await selectBackend('cpu');
      tf.tidy(() => {
        const x = tf.randomNormal([2, 9, 11, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
        const w = tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
        const up = tf.randomNormal([2, 9, 11, 4], 0, 1, 'float32', 3);
        const size = d * (k - 1) + 1;
        const expanded = tf.buffer([size, size, 3, 4]);
        const src = w.bufferSync();
        for (let i = 0; i < k; i++)
          for (let j = 0; j < k; j++)
            for (let a = 0; a < 3; a++) for (let b = 0; b < 4; b++) expanded.set(src.get(i, j, a, b), i * d, j * d, a, b);
        const W = expanded.toTensor() as tf.Tensor4D;
        const [gx, gw] = tf.grads((a, b) => conv2dSame(a as tf.Tensor4D, b as tf.Tensor4D, { customGrad: true, dilation: d }).mul(up).sum())([x, w]);
        const [rx, rW] = tf.grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').mul(up).sum())([x, W]);
        const rb = rW!.bufferSync();
        const rw = tf.buffer([k, k, 3, 4]);
        for (let i = 0; i < k; i++)
          for (let j = 0; j < k; j++) for (let a = 0; a < 3; a++) for (let b = 0; b < 4; b++) rw.set(rb.get(i * d, j * d, a, b), i, j, a, b);
        const diff = (p: tf.Tensor, q: tf.Tensor) => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]!;
        expect(diff(conv2dSame(x, w, { customGrad: true, dilation: d }), tf.conv2d(x, W, 1, 'same'))).toBeLessThan(1e-4);
        expect(diff(gx!, rx!)).toBeLessThan(1e-3);
        expect(diff(gw!, rw.toTensor())).toBeLessThan(1e-3);
      });
    });
  }
  it('rejects even kernels', () => {
    expect(() => conv2dSame(tf.zeros([1, 4, 4, 1]), tf.zeros([2, 2, 1, 1]))).toThrow(/odd/);
  });
});
