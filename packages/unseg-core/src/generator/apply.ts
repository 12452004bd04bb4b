import * as tf from '@tensorflow/tfjs';

/**
 * The method's noise application on tensors, for training: x' = clamp(x + noise * eps, 0, 1),
 * eps = epsFg where the prompt is 1 and epsBg where it is 0 (a soft prompt interpolates).
 * Same formula as applyBudgetedNoise, without the 8-bit quantisation so gradients flow.
 * x: [N,H,W,3] in [0,1]; noise: [N,H,W,3] directions; prompt: [N,H,W,1].
 */
export function applyNoiseTensor(
  x: tf.Tensor4D,
  noise: tf.Tensor4D,
  prompt: tf.Tensor4D,
  epsFg: number,
  epsBg: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const eps = prompt.mul(epsFg - epsBg).add(epsBg);
    const n = tf.clipByValue(noise, -1, 1);
    return tf.clipByValue(x.add(n.mul(eps)), 0, 1) as tf.Tensor4D;
  });
}
