import { DirectionPool } from './pool.js';
import { hashInts, hashString, mulberry32Bytes } from './seeded.js';
import type { NoiseRequest, NoiseSource } from './types.js';

/** The clean reference: publishes the images unchanged (still re-encoded and verified). */
export function createNoNoiseSource(): NoiseSource {
  return {
    name: 'none',
    description: 'no noise (clean reference copy)',
    batchSize: 1,
    async generate(batch: readonly NoiseRequest[]) {
      return batch.map((r) => new Float32Array(r.image.width * r.image.height * 3));
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
  const pool = new DirectionPool();
  let scratch = new Uint8Array(0);
  return {
    name: 'uniform',
    description: `i.i.d. uniform noise in [-eps, eps] (seed ${seed})`,
    batchSize: 1,
    settings: { seed },
    async generate(batch: readonly NoiseRequest[]) {
      return batch.map((r) => {
        const length = r.image.width * r.image.height * 3;
        if (scratch.length < length) scratch = new Uint8Array(length);
        // Seeded per image, so a resumed or sharded run publishes the same pixels.
        return uniformDirections(mulberry32Bytes(hashInts(seed, hashString(r.id)), length, scratch), pool.take(length));
      });
    },
    release(directions) {
      pool.give(directions);
    },
  };
}

/**
 * Bytes (uniform on 0..255) to values on 256 evenly spaced levels in (-1, 1), four per 32-bit
 * draw. The published change is a whole number of steps of at most eps*255 <= 255, so 256
 * levels lose nothing, and a 1024x1024 image costs one quarter of the draws.
 */
function uniformDirections(bytes: Uint8Array, out: Float32Array): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = (bytes[i]! + 0.5) * (1 / 128) - 1;
  return out;
}
