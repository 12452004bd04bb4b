import type { RgbImage } from '../image/types.js';
import { applyNoisePixels } from '../pixels/kernels.js';
import type { BinaryMask } from '../masks/types.js';
import type { NoiseBudget } from './types.js';

/**
 * The budget in whole 0..255 steps. Published images are 8-bit, so a change of eps*255 that is
 * not a whole number is floored: rounding up would break the budget by a fraction of a step.
 */
export function budgetSteps(eps: number): number {
  return Math.floor(eps * 255 + 1e-9);
}

/**
 * x' = clamp(x + noise * eps(region), 0, 1), with eps = epsFg inside the prompt and epsBg
 * outside, quantised to 8 bits: the step is floor(noise * eps * 255 + 0.5) in float32, clamped to
 * the region's whole-step budget; NaN noise adds nothing. This is the method's noise application
 * (UnSeg, Eq. 1 with the per-region budget); the generator's training uses the same formula on
 * tensors (applyNoiseTensor), and a test keeps the two in agreement. The result's pixels are
 * written to `into` when given (an array of width * height * 3 bytes), else to a new array.
 */
export function applyBudgetedNoise(
  image: RgbImage,
  noise: Float32Array,
  prompt: BinaryMask,
  budget: NoiseBudget,
  into?: Uint8Array,
): RgbImage {
  const { width, height, data } = image;
  const n = width * height;
  if (noise.length !== n * 3) {
    throw new RangeError(`noise has ${noise.length} values, expected ${n * 3} for ${width}x${height}x3`);
  }
  if (prompt.width !== width || prompt.height !== height) {
    throw new RangeError(`prompt is ${prompt.width}x${prompt.height}, image is ${width}x${height}`);
  }
  if (into && into.length !== n * 3) throw new RangeError(`output has ${into.length} bytes, expected ${n * 3}`);
  const out = into ?? new Uint8Array(n * 3);
  applyNoisePixels(data, noise, prompt.data, out, {
    scaleFg: budget.epsFg * 255,
    scaleBg: budget.epsBg * 255,
    limitFg: budgetSteps(budget.epsFg),
    limitBg: budgetSteps(budget.epsBg),
  });
  return { width, height, data: out };
}
