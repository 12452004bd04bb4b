import * as tf from '@tensorflow/tfjs';

/** Mean binary cross-entropy on logits, in the numerically stable form. */
export function bceWithLogits(logits: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => tf.relu(logits).sub(logits.mul(target)).add(tf.softplus(tf.abs(logits).neg())).mean() as tf.Scalar);
}

/** 1 - soft Dice, per image, averaged over the batch. */
export function diceLoss(logits: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.sigmoid(logits);
    const inter = p.mul(target).sum([1, 2, 3]);
    const denom = p.sum([1, 2, 3]).add(target.sum([1, 2, 3]));
    return tf.scalar(1).sub(inter.mul(2).add(1).div(denom.add(1)).mean()) as tf.Scalar;
  });
}

/** Mean softmax cross-entropy of [n, h, w, classes] logits against one-hot targets (semantic segmentation). */
export function softmaxCrossEntropy(logits: tf.Tensor4D, oneHot: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => logits.sub(tf.logSumExp(logits, 3, true)).mul(oneHot).sum(3).mean().neg() as tf.Scalar);
}

/** The segmentation loss of UnSeg's surrogate and generator phases: BCE + Dice. */
export function segLoss(logits: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => bceWithLogits(logits, target).add(diceLoss(logits, target)) as tf.Scalar);
}

/**
 * Label modification (LM): in generator phases the target is an all-ones mask, so G learns
 * noise that makes the whole image look like the prompted object to S.
 */
export function generatorTarget(trueMask: tf.Tensor4D, labelModification: boolean): tf.Tensor4D {
  return labelModification ? tf.onesLike(trueMask) : trueMask.clone();
}
