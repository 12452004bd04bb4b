// The forward-only-gradient conv against tfjs's own conv on the cpu backend. tfjs has no
// gradient for dilated conv2d, so a dilated conv is compared with the plain conv of the
// zero-inserted (expanded) kernel, whose gradient at the taps is the dilated kernel's gradient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/tf.mjs';
import { conv2dSame } from '../lib/conv.mjs';

await initBackend('cpu');

function expand(w, d) {
  const [k, , ci, co] = w.shape;
  const K = d * (k - 1) + 1;
  const buf = tf.buffer([K, K, ci, co]);
  const src = w.bufferSync();
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let a = 0; a < ci; a++) for (let b = 0; b < co; b++) buf.set(src.get(i, j, a, b), i * d, j * d, a, b);
  return buf.toTensor();
}

const maxDiff = (a, b) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];

for (const [k, d] of [[3, 1], [1, 1], [3, 2], [3, 3], [5, 2]]) {
  test(`conv2dSame k=${k} dilation=${d}: value and both gradients match`, () => {
    const x = tf.randomNormal([2, 9, 11, 3], 0, 1, 'float32', 1);
    const w = tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2);
    const up = tf.randomNormal([2, 9, 11, 4], 0, 1, 'float32', 3);
    const W = expand(w, d);
    const [gx, gw] = tf.grads((a, b) => tf.sum(tf.mul(conv2dSame(a, b, d, true), up)))([x, w]);
    const [rx, rW] = tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a, b, 1, 'same'), up)))([x, W]);
    const rb = rW.bufferSync();
    const rw = tf.buffer(w.shape);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let a = 0; a < 3; a++) for (let b = 0; b < 4; b++) rw.set(rb.get(i * d, j * d, a, b), i, j, a, b);
    assert.ok(maxDiff(conv2dSame(x, w, d, true), tf.conv2d(x, W, 1, 'same')) < 1e-4);
    assert.ok(maxDiff(gx, rx) < 1e-3);
    assert.ok(maxDiff(gw, rw.toTensor()) < 1e-3);
  });
}
