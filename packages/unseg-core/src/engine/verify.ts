import type { RgbImage } from '../image/types.js';
import type { BinaryMask } from '../masks/types.js';
import { budgetSteps } from '../noise/apply.js';
import type { NoiseBudget } from '../noise/types.js';
import type { NoiseStats } from '../shards/types.js';
import { measurePixels } from '../pixels/kernels.js';

/** Measures the change between original and published pixels, per region of the prompt. */
export function measureNoise(original: RgbImage, published: RgbImage, prompt: BinaryMask): NoiseStats {
  if (original.width !== published.width || original.height !== published.height) {
    throw new RangeError(
      `published image is ${published.width}x${published.height}, original ${original.width}x${original.height}`,
    );
  }
  if (prompt.width !== original.width || prompt.height !== original.height) {
    throw new RangeError(`prompt is ${prompt.width}x${prompt.height}, image is ${original.width}x${original.height}`);
  }
  const n = original.width * original.height;
  const d = measurePixels(original.data, published.data, prompt.data);
  const mse = d.sumSq / (n * 3);
  return {
    maxAbsFg: d.maxAbsFg,
    maxAbsBg: d.maxAbsBg,
    meanAbs: d.sumAbs / (n * 3),
    psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse),
    promptFraction: d.promptPixels / n,
  };
}

/** Returns why the stats break the budget, or undefined when they are within it. */
export function budgetViolation(stats: NoiseStats, budget: NoiseBudget): string | undefined {
  const fg = budgetSteps(budget.epsFg);
  const bg = budgetSteps(budget.epsBg);
  const problems: string[] = [];
  if (stats.maxAbsFg > fg) problems.push(`max |delta| inside the prompt is ${stats.maxAbsFg}/255 > ${fg}/255`);
  if (stats.maxAbsBg > bg) problems.push(`max |delta| outside the prompt is ${stats.maxAbsBg}/255 > ${bg}/255`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}
