import { directionPool } from '../pixels/pool.js';
import { stripeSign } from './classwise.js';
import type { NoiseRequest, NoiseSource } from './types.js';

export interface GratingNoiseOptions {
  /** Picks the stripes' orientation (one of the class-wise grating's three; seed 0: diagonal). */
  readonly seed?: number;
  /** Stripe width in image pixels (default 8: the width measured to protect, see the README). */
  readonly stripeWidth?: number;
}

/** The orientations the seed picks from: 0, 90 and 45 degrees. */
export const GRATING_DIRECTIONS: readonly (readonly [number, number])[] = [
  [1, 0],
  [0, 1],
  [Math.SQRT1_2, Math.SQRT1_2],
];

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
  const n = GRATING_DIRECTIONS.length;
  const direction = GRATING_DIRECTIONS[(((seed + 2) % n) + n) % n]!;
  const sign = stripeSign(direction, stripeWidth);
  const pool = directionPool();
  return {
    name: 'grating',
    description: `one fixed grey grating (stripes ${stripeWidth}px wide) on every prompt pixel, none outside, seed ${seed}`,
    batchSize: 1,
    settings: { seed, stripeWidth },
    async generate(batch: readonly NoiseRequest[]) {
      return batch.map((r) => {
        const { width, height } = r.image;
        const prompt = r.prompt.data;
        const out = pool.take(width * height * 3);
        for (let y = 0, p = 0; y < height; y++) {
          for (let x = 0; x < width; x++, p++) {
            // Grey: the same sign in R, G and B. A colour grating 2 px wide at the trainer's size
            // did not survive a JPEG round trip (4:2:0 chroma subsampling averages colour over 2x2
            // pixels), and hue and saturation jitter or a grey conversion rotate or erase colour;
            // brightness is kept by all.
            const v = prompt[p] !== 0 ? sign(x, y) : 0;
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
