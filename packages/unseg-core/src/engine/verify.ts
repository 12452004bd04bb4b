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
  for (let p = 0; p < n; p++) {
    const inside = prompt.data[p] !== 0;
    if (inside) promptPixels++;
    let m = 0;
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      const d = b[i]! - a[i]!;
      const ad = d < 0 ? -d : d;
      if (ad > m) m = ad;
      sumAbs += ad;
      sumSq += d * d;
    }
    if (inside) {
      if (m > maxFg) maxFg = m;
    } else if (m > maxBg) maxBg = m;
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
