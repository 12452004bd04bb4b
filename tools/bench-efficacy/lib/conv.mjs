// A stride-1 'same' convolution with optional dilation whose gradient uses forward convolutions
// only: the wasm backend has no Conv2DBackpropFilter kernel and a slow Conv2DBackpropInput.
// helper-4's conv2dSame in @unseg/core does the same for dilation 1 only; the DeepLab head needs
// atrous rates, so this one adds the dilation (for d = 1 the two are the same computation).
//  - dx: dy convolved ('same', same dilation) with the filter rotated 180 degrees and its in/out
//    channels swapped;
//  - dw[i,j,ci,co] = sum_{n,y,x} xpad[n, y + i*d, x + j*d, ci] * dy[n,y,x,co]: the padded input
//    with batch and channels swapped, convolved ('valid', stride d) with dy used as the filter.
import { tf } from './tf.mjs';

const cache = new Map();

function customConv(d) {
  let f = cache.get(d);
  if (f) return f;
  f = tf.customGrad((x, w, save) => {
    save([x, w]);
    return {
      value: tf.conv2d(x, w, 1, 'same', 'NHWC', [d, d]),
      gradFunc: (dy, [sx, sw]) => {
        const k = sw.shape[0];
        const p = (d * (k - 1)) / 2;
        const dx = tf.tidy(() => tf.conv2d(dy, tf.reverse(sw, [0, 1]).transpose([0, 1, 3, 2]), 1, 'same', 'NHWC', [d, d]));
        const dw = tf.tidy(() => {
          const xp = p > 0 ? tf.pad(sx, [[0, 0], [p, p], [p, p], [0, 0]]) : sx;
          const xT = xp.transpose([3, 1, 2, 0]);
          const dyT = dy.transpose([1, 2, 0, 3]);
          return tf.conv2d(xT, dyT, d, 'valid').transpose([1, 2, 0, 3]);
        });
        return [dx, dw];
      },
    };
  });
  cache.set(d, f);
  return f;
}

/** x [n,h,w,cin], w [k,k,cin,cout] with k odd. */
export function conv2dSame(x, w, dilation = 1, useCustom = tf.getBackend() !== 'tensorflow') {
  if (w.shape[0] % 2 !== 1 || w.shape[0] !== w.shape[1]) throw new RangeError(`odd square kernel needed, got ${w.shape}`);
  if (!useCustom) return tf.conv2d(x, w, 1, 'same', 'NHWC', [dilation, dilation]);
  return customConv(dilation)(x, w);
}
