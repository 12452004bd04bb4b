import type { RgbImage } from '../image/types.js';
import type { BinaryMask } from '../masks/types.js';
import { budgetSteps } from '../noise/apply.js';
import type { NoiseBudget } from '../noise/types.js';
import type { NoiseStats } from '../shards/types.js';

/** Measures the change between original and published pixels, per region of the prompt. */
export function measureNoise(original: RgbImage, published: RgbImage, prompt: BinaryMask): NoiseStats {
  if (original.width !== published.width || original.height !== published.height) {
    throw new RangeError(
      `published image is ${published.width}x${published.height}, original ${original.width}x${original.height}`,
    );
  }
  const n = original.width * original.height;
  let maxFg = 0;
  let maxBg = 0;
  let sumAbs = 0;
  let sumSq = 0;
  let promptPixels = 0;
  const a = original.data;
  const b = published.data;
  const mask = prompt.data;
  // Branch-free: the differences are noise, so data-dependent branches would mispredict on
  // about every pixel (this loop took 30 ms per 1024x1024 image with them, 14 without).
  for (let p = 0, i = 0; p < n; p++, i += 3) {
    const d0 = b[i]! - a[i]!;
    const d1 = b[i + 1]! - a[i + 1]!;
    const d2 = b[i + 2]! - a[i + 2]!;
    const s0 = d0 >> 31;
    const s1 = d1 >> 31;
    const s2 = d2 >> 31;
    const a0 = (d0 ^ s0) - s0;
    const a1 = (d1 ^ s1) - s1;
    const a2 = (d2 ^ s2) - s2;
    sumAbs += a0 + a1 + a2;
    sumSq += d0 * d0 + d1 * d1 + d2 * d2;
    const m = Math.max(a0, a1, a2);
    const inside = -(mask[p] !== 0 ? 1 : 0); // all ones inside the prompt, zero outside
    promptPixels -= inside;
    maxFg = Math.max(maxFg, m & inside);
    maxBg = Math.max(maxBg, m & ~inside);
  }
  const mse = sumSq / (n * 3);
  return {
    maxAbsFg: maxFg,
    maxAbsBg: maxBg,
    meanAbs: sumAbs / (n * 3),
    psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse),
    promptFraction: promptPixels / n,
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
