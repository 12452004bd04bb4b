import { directionPool } from '../pixels/pool.js';
import { mulberry32Directions } from '../pixels/kernels.js';
import { hashInts, hashString } from './seeded.js';
import type { NoiseRequest, NoiseSource } from './types.js';

/** The clean reference: publishes the images unchanged (still re-encoded and verified). */
export function createNoNoiseSource(): NoiseSource {
  const pool = directionPool();
  return {
    name: 'none',
    description: 'no noise (clean reference copy)',
    batchSize: 1,
    async generate(batch: readonly NoiseRequest[]) {
      return batch.map((r) => pool.take(r.image.width * r.image.height * 3).fill(0));
    },
    release(directions) {
      pool.give(directions);
    },
  };
}

export interface UniformNoiseOptions {
  readonly seed?: number;
}

/**
 * I.i.d. uniform noise in [-eps, eps] per region: the honest "random noise of the same budget"
 * baseline. It should not hurt a model trained on it; if it does, the budget is too large.
 */
export function createUniformNoiseSource(options: UniformNoiseOptions = {}): NoiseSource {
  const seed = options.seed ?? 0;
  const pool = directionPool();
  return {
    name: 'uniform',
    description: `i.i.d. uniform noise in [-eps, eps] (seed ${seed})`,
    batchSize: 1,
    settings: { seed },
    async generate(batch: readonly NoiseRequest[]) {
      return batch.map((r) => {
        // Seeded per image, so a resumed or sharded run publishes the same pixels. 256 levels
        // lose nothing: the published change is a whole number of steps of at most eps*255.
        return mulberry32Directions(hashInts(seed, hashString(r.id)), pool.take(r.image.width * r.image.height * 3));
      });
    },
    release(directions) {
      pool.give(directions);
    },
  };
}
