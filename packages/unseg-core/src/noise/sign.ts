import type { NoiseRequest, NoiseSource } from './types.js';
import { hashInts, hashString, mulberry32 } from './seeded.js';

export interface SignNoiseOptions {
  /** Global seed; each image's texture is derived from (seed, image id). */
  readonly seed?: number;
  /**
   * The long side of the grid the signs are drawn on (one random sign per cell per channel).
   * 128 matches the generator's working resolution, so this baseline has the same spatial
   * scale as the learned noise; a 1024-px image then gets 8x8-px cells.
   */
  readonly workingSize?: number;
  /**
   * How the grid is brought to the image size. 'bilinear' (default) gives a smooth texture
   * that survives the antialiased downscaling every training recipe applies; 'nearest' gives
   * blocky cells whose hard edges are fine-scale energy that downscaling averages away.
   */
  readonly upsample?: 'bilinear' | 'nearest';
}

/**
 * The random +-1 sign texture baseline: per image, an independent random sign per working-grid
 * cell and channel, upsampled to the image. It needs no training, and with the engine's region
 * budgets (8/255 inside objects, 2/255 outside) it is the baseline a learned generator must
 * beat: the amplitude difference between regions alone already marks the objects.
 */
export function createSignNoiseSource(options: SignNoiseOptions = {}): NoiseSource {
  const seed = options.seed ?? 0;
  const workingSize = options.workingSize ?? 128;
  const upsample = options.upsample ?? 'bilinear';
  if (!Number.isInteger(workingSize) || workingSize < 1) {
    throw new RangeError(`workingSize must be a positive integer, got ${workingSize}`);
  }
  return {
    name: 'sign',
    description: `random +-1 sign texture drawn at ${workingSize}px (long side), ${upsample} upsampled, seed ${seed}`,
    batchSize: 8,
    settings: { seed, workingSize, upsample },
    async generate(batch: readonly NoiseRequest[]): Promise<Float32Array[]> {
      return batch.map((r) => signTexture(r.image.width, r.image.height, r.id, seed, workingSize, upsample));
    },
  };
}

/** The working grid's size for an image: long side = workingSize, aspect kept, at least 1. */
export function workingGrid(width: number, height: number, workingSize: number): { gw: number; gh: number } {
  const s = workingSize / Math.max(width, height);
  return { gw: Math.max(1, Math.round(width * s)), gh: Math.max(1, Math.round(height * s)) };
}

export function signTexture(
  width: number,
  height: number,
  id: string,
  seed: number,
  workingSize: number,
  upsample: 'bilinear' | 'nearest',
): Float32Array {
  const { gw, gh } = workingGrid(width, height, workingSize);
  const next = mulberry32(hashInts(seed, hashString(id)));
  const grid = new Float32Array(gw * gh * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = next() & 1 ? 1 : -1;

  const out = new Float32Array(width * height * 3);
  const sx = gw / width;
  const sy = gh / height;
  if (upsample === 'nearest') {
    for (let y = 0; y < height; y++) {
      const gy = Math.min(gh - 1, Math.floor((y + 0.5) * sy));
      for (let x = 0; x < width; x++) {
        const gx = Math.min(gw - 1, Math.floor((x + 0.5) * sx));
        const g = (gy * gw + gx) * 3;
        const o = (y * width + x) * 3;
        out[o] = grid[g]!;
        out[o + 1] = grid[g + 1]!;
        out[o + 2] = grid[g + 2]!;
      }
    }
    return out;
  }
  // Half-pixel centres (as resize with align_corners=false), edges clamped.
  for (let y = 0; y < height; y++) {
    const fy = Math.min(gh - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(gh - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(gw - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(gw - 1, x0 + 1);
      const wx = fx - x0;
      const a = (y0 * gw + x0) * 3;
      const b = (y0 * gw + x1) * 3;
      const c = (y1 * gw + x0) * 3;
      const d = (y1 * gw + x1) * 3;
      const o = (y * width + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = grid[a + ch]! * (1 - wx) + grid[b + ch]! * wx;
        const bottom = grid[c + ch]! * (1 - wx) + grid[d + ch]! * wx;
        out[o + ch] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}
