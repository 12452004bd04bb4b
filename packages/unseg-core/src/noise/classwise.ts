import type { NoiseRequest, NoiseSource } from './types.js';
import { hashInts } from './seeded.js';

export interface ClasswiseNoiseOptions {
  /** Global seed; each class's pattern is derived from (seed, class id). */
  readonly seed?: number;
  /**
   * The pattern's cell size in image pixels (one random sign per cell and channel). The default
   * 32 keeps cells 4 px wide after the ~8x downscale of a 1024-px image to a 128-px training
   * size: the 6-px cells were averaged away by a 4x downscale, and a baseline that a
   * resize erases would be a strawman.
   */
  readonly cellSize?: number;
}

/**
 * The class-wise shortcut baseline (as in "unlearnable examples"): one fixed random +-1 pattern
 * per class, anchored to the image grid and identical in every image, written inside that
 * class's pixels. Pixels with no class (label 0) get zero noise. The pattern is a pure function
 * of (seed, class, cell, channel), so no table is stored and any image size works.
 */
export function createClasswiseNoiseSource(options: ClasswiseNoiseOptions = {}): NoiseSource {
  const seed = options.seed ?? 0;
  const cellSize = options.cellSize ?? 32;
  if (!Number.isInteger(cellSize) || cellSize < 1) {
    throw new RangeError(`cellSize must be a positive integer, got ${cellSize}`);
  }
  return {
    name: 'classwise',
    description: `fixed random +-1 pattern per class (${cellSize}px cells) inside each class's pixels, seed ${seed}`,
    batchSize: 8,
    needsLabels: true,
    settings: { seed, cellSize },
    async generate(batch: readonly NoiseRequest[]): Promise<Float32Array[]> {
      return batch.map((r) => classwisePattern(r, seed, cellSize));
    },
  };
}

/** The sign of class `label`'s pattern at cell (cx, cy), channel c. */
export function classwiseSign(seed: number, label: number, cx: number, cy: number, c: number): 1 | -1 {
  return hashInts(seed, label, cx, cy, c) & 1 ? 1 : -1;
}

function classwisePattern(r: NoiseRequest, seed: number, cellSize: number): Float32Array {
  const { width, height } = r.image;
  const labels = r.labels;
  if (!labels) throw new Error(`classwise noise needs per-pixel labels (sample ${r.id})`);
  if (labels.length !== width * height) {
    throw new RangeError(`labels have ${labels.length} values, expected ${width * height} (sample ${r.id})`);
  }
  const out = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const cy = Math.floor(y / cellSize);
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const label = labels[p]!;
      if (label === 0) continue;
      const cx = Math.floor(x / cellSize);
      for (let c = 0; c < 3; c++) out[p * 3 + c] = classwiseSign(seed, label, cx, cy, c);
    }
  }
  return out;
}
