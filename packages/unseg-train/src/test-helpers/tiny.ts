import type { TrainingSet } from '../data.js';
import { PAPER_OPTIONS, type TrainerOptions } from '../trainer.js';

/** Two 16x16 images with a bright square object each: enough for S to learn something fast. */
export function tinySet(size = 16): TrainingSet {
  const images: Float32Array[] = [];
  const masks: Uint8Array[][] = [];
  for (let k = 0; k < 2; k++) {
    const img = new Float32Array(size * size * 3);
    const m = new Uint8Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = k === 0 ? x >= 3 && x < 10 && y >= 4 && y < 12 : x >= 7 && x < 14 && y >= 2 && y < 9;
        m[y * size + x] = inside ? 1 : 0;
        for (let c = 0; c < 3; c++) img[(y * size + x) * 3 + c] = inside ? 0.8 - 0.1 * c : 0.2 + 0.05 * ((x + y + c) % 3);
      }
    }
    images.push(img);
    masks.push([m]);
  }
  return { size, images, ids: ['a', 'b'], masks };
}

export const TINY_OPTIONS: TrainerOptions = {
  ...PAPER_OPTIONS,
  seed: 3,
  batchSize: 2,
  generatorWidths: [4, 8],
  surrogateWidths: [4, 8],
  lrGenerator: 1e-2,
  lrSurrogate: 1e-2,
  rescale: null,
  diagnosticEvery: 0,
};
