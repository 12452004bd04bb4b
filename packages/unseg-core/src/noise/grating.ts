import { directionPool } from '../pixels/pool.js';
import { GRATING_DIRECTIONS, gratingPattern } from './classwise.js';
import type { NoiseRequest, NoiseSource } from './types.js';

export interface GratingNoiseOptions {
  /** Picks the stripes' orientation (one of the class-wise grating's three; seed 0: diagonal). */
  readonly seed?: number;
  /** Stripe width in image pixels (default 8: the width measured to protect, see the README). */
  readonly stripeWidth?: number;
  /**
   * Outside the prompt: `none` (default, no noise) or `crossed` (the same stripes in another
   * orientation, at eps_bg), so that the background carries a code of its own too.
   */
  readonly background?: GratingBackground;
}

export const GRATING_BACKGROUNDS = ['none', 'crossed'] as const;
export type GratingBackground = (typeof GRATING_BACKGROUNDS)[number];

/**
 * Grey: the same sign in R, G and B. A colour grating 2 px wide at the trainer's size did not
 * survive a JPEG round trip (4:2:0 chroma subsampling averages colour over 2x2 pixels), and hue
 * and saturation jitter or a grey conversion rotate or erase colour; brightness is kept by all.
 */
const GREY: readonly [number, number, number] = [1, 1, 1];

/**
 * The class-agnostic grating: one fixed grey stripe pattern, identical in every image, written on
 * every prompt pixel (the union of the objects, the same input the UnSeg generator gets), and no
 * noise outside. It needs no class labels, so it works on class-agnostic data (SA-1B) too. A
 * trainer finds "these stripes = an object" easier to learn than the objects themselves; unlike
 * the class-wise grating it does not tell the classes apart, which costs some protection.
 */
export function createGratingNoiseSource(options: GratingNoiseOptions = {}): NoiseSource {
  const seed = options.seed ?? 0;
  const stripeWidth = options.stripeWidth ?? 8;
  if (!Number.isInteger(stripeWidth) || stripeWidth < 1) {
    throw new RangeError(`stripe width must be a positive integer, got ${stripeWidth}`);
  }
  const background = options.background ?? 'none';
  if (!GRATING_BACKGROUNDS.includes(background)) {
    throw new RangeError(`grating background must be one of ${GRATING_BACKGROUNDS.join(', ')}, got ${String(background)}`);
  }
  const n = GRATING_DIRECTIONS.length;
  const index = (((seed + 2) % n) + n) % n;
  const pattern = gratingPattern(GRATING_DIRECTIONS[index]!, GREY, stripeWidth);
  const outside = background === 'crossed' ? gratingPattern(GRATING_DIRECTIONS[(index + 1) % n]!, GREY, stripeWidth) : undefined;
  const pool = directionPool();
  return {
    name: 'grating',
    description: `one fixed grey grating (stripes ${stripeWidth}px wide) on every prompt pixel, ${outside ? 'crossed stripes' : 'none'} outside, seed ${seed}`,
    batchSize: 1,
    // The default background is left out so that runs published before it existed still resume.
    settings: outside ? { seed, stripeWidth, background } : { seed, stripeWidth },
    async generate(batch: readonly NoiseRequest[]) {
      return batch.map((r) => {
        const { width, height } = r.image;
        const prompt = r.prompt.data;
        const out = pool.take(width * height * 3);
        for (let y = 0, p = 0; y < height; y++) {
          for (let x = 0; x < width; x++, p++) {
            // Grey: one value for R, G and B.
            const v = prompt[p] !== 0 ? pattern(x, y, 0) : outside ? outside(x, y, 0) : 0;
            out[p * 3] = v;
            out[p * 3 + 1] = v;
            out[p * 3 + 2] = v;
          }
        }
        return out;
      });
    },
    release(directions) {
      pool.give(directions);
    },
  };
}
