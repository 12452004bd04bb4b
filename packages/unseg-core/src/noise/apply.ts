import type { RgbImage } from '../image/types.js';
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
 * outside, quantised to 8 bits. This is the method's noise application (UnSeg, Eq. 1 with the
 * per-region budget); the generator's training uses the same formula on tensors
 * (applyNoiseTensor), and a test keeps the two in agreement.
 */
export function applyBudgetedNoise(
  image: RgbImage,
  noise: Float32Array,
  prompt: BinaryMask,
  budget: NoiseBudget,
): RgbImage {
  const { width, height, data } = image;
  const n = width * height;
  if (noise.length !== n * 3) {
    throw new RangeError(`noise has ${noise.length} values, expected ${n * 3} for ${width}x${height}x3`);
  }
  if (prompt.width !== width || prompt.height !== height) {
    throw new RangeError(`prompt is ${prompt.width}x${prompt.height}, image is ${width}x${height}`);
  }
  const fg = budgetSteps(budget.epsFg);
  const bg = budgetSteps(budget.epsBg);
  const scaleFg = budget.epsFg * 255;
  const scaleBg = budget.epsBg * 255;
  const out = new Uint8Array(n * 3);
  const mask = prompt.data;
  for (let p = 0, i = 0; p < n; p++) {
    const inside = mask[p] !== 0;
    const limit = inside ? fg : bg;
    const scale = inside ? scaleFg : scaleBg;
    for (let c = 0; c < 3; c++, i++) {
      // floor(x + 0.5) is Math.round for these magnitudes, and about 3x faster in V8 here.
      let step = Math.floor(noise[i]! * scale + 0.5);
      if (step > limit) step = limit;
      else if (step < -limit) step = -limit;
      else if (step !== step) step = 0; // NaN noise adds nothing
      const y = data[i]! + step;
      out[i] = y < 0 ? 0 : y > 255 ? 255 : y;
    }
  }
  return { width, height, data: out };
}
