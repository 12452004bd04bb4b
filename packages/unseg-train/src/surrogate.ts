import * as tf from '@tensorflow/tfjs';
import { initUNet, unetForward, type ParamMap, type UNetSpec } from '@unseg/core/generator';
import { PROMPT_CHANNELS } from './prompts.js';

/**
 * The surrogate interactive segmenter S(image, prompt) -> mask logits, trained from scratch.
 * The paper fine-tunes SAM ViT-B; SAM's weights cannot be fetched here and would not train on
 * two CPU cores, so S is a small U-Net that sees the RGB image and the prompt channels.
 */
export const SURROGATE_PREFIX = 'S';

export interface Surrogate {
  readonly spec: UNetSpec;
  readonly params: ParamMap;
  forward(x: tf.Tensor4D, prompt: tf.Tensor4D): tf.Tensor4D;
  dispose(): void;
}

export function surrogateSpec(widths: readonly number[]): UNetSpec {
  return { inChannels: 3 + PROMPT_CHANNELS, outChannels: 1, widths };
}

export function createSurrogate(widths: readonly number[], seed: number): Surrogate {
  const spec = surrogateSpec(widths);
  const params = initUNet(spec, SURROGATE_PREFIX, seed);
  return {
    spec,
    params,
    forward(x, prompt) {
      return tf.tidy(() => unetForward(spec, params, SURROGATE_PREFIX, tf.concat([x.mul(2).sub(1), prompt], 3) as tf.Tensor4D));
    },
    dispose() {
      for (const v of params.values()) v.dispose();
    },
  };
}
