import * as tf from '@tensorflow/tfjs';

/**
 * Stride-1 'same' convolution (optionally dilated) whose gradient is built from forward
 * convolutions only. The wasm backend has no Conv2DBackpropFilter kernel and a very slow
 * Conv2DBackpropInput, and tfjs has no gradient at all for dilated conv2d:
 *  - dx: dy convolved ('same', same dilation) with the filter rotated 180 degrees, in/out
 *    channels swapped;
 *  - dw[i,j,ci,co] = sum over n,y,x of xpad[n, y + i*d, x + j*d, ci] * dy[n,y,x,co]: the padded
 *    input with batch and channels swapped, convolved ('valid', stride d) with dy used as a
 *    filter (batch as its input channels), which yields [cin, k, k, cout].
 * Kernel sizes must be odd so that 'same' padding is symmetric.
 */
const customConvs = new Map<number, (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor>();

function customConv(d: number): (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor {
  const cached = customConvs.get(d);
  if (cached) return cached;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x4, w4, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([x4, w4]);
    return {
      value: tf.conv2d(x4, w4, 1, 'same', 'NHWC', [d, d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        const k = sw.shape[0];
        const p = (d * (k - 1)) / 2;
        const dx = tf.tidy(() => {
          const wr = tf.reverse(sw, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
          return tf.conv2d(dy4, wr, 1, 'same', 'NHWC', [d, d]);
        });
        const dw = tf.tidy(() => {
          const xp = p > 0 ? tf.pad(sx, [[0, 0], [p, p], [p, p], [0, 0]]) : sx;
          const xT = xp.transpose([3, 1, 2, 0]) as tf.Tensor4D;
          const dyT = dy4.transpose([1, 2, 0, 3]) as tf.Tensor4D;
          return tf.conv2d(xT, dyT, d, 'valid').transpose([1, 2, 0, 3]);
        });
        return [dx, dw];
      },
    };
  }) as unknown as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor;
  customConvs.set(d, f);
  return f;
}

/** Whether conv2dSame uses the forward-only gradient (everywhere but the native TF backend). */
export function usesCustomConvGrad(): boolean {
  return tf.getBackend() !== 'tensorflow';
}

export function conv2dSame(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  options?: { customGrad?: boolean; dilation?: number },
): tf.Tensor4D {
  if (w.shape[0] % 2 !== 1 || w.shape[1] !== w.shape[0]) {
    throw new RangeError(`conv2dSame needs a square odd kernel, got ${w.shape[0]}x${w.shape[1]}`);
  }
  const d = options?.dilation ?? 1;
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`conv2dSame dilation must be a whole number >= 1, got ${d}`);
  const custom = options?.customGrad ?? usesCustomConvGrad();
  return custom ? (customConv(d)(x, w) as tf.Tensor4D) : tf.conv2d(x, w, 1, 'same', 'NHWC', [d, d]);
}
