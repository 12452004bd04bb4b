import { rleArea } from '../masks/index.js';
import type { Rle } from '../masks/types.js';
import { NO_OBJECT } from '../noise/types.js';

/** One object as the label map sees it. */
export interface LabelledMask {
  readonly rle: Rle;
  readonly categoryId: number;
}

/**
 * The per-pixel category map that class-wise noise is keyed by ({@link NO_OBJECT} where there is
 * no object). Where objects
 * overlap, the smaller one wins, whatever order the annotation lists them in: a window drawn on a
 * facade is a window, as in the semantic map a trainer builds from the same objects. Painted in
 * annotation order instead, 15 % of coco-facades' object pixels got the code of the facade under
 * a window or a tree, so the code disagreed with the class a trainer learns there.
 */
export function paintCategoryLabels(objects: readonly LabelledMask[], width: number, height: number): Int32Array {
  // COCO RLE runs go down the columns, so each object's runs are filled into a column-major map
  // (a fill per run: work in proportion to the object's area, not the image's), which is then
  // transposed once. Decoding every object to a full-size mask cost a pass over the whole image
  // per object: 70 ms per 1024x1024 facade image, with dozens of windows on each.
  const bySize = objects.map((o) => ({ o, area: rleArea(o.rle) })).sort((a, b) => b.area - a.area);
  const columns = new Int32Array(width * height).fill(NO_OBJECT);
  for (const { o } of bySize) {
    const { counts, width: w, height: h } = o.rle;
    if (w !== width || h !== height) throw new RangeError(`mask is ${w}x${h}, labels are ${width}x${height}`);
    let at = 0;
    for (let j = 0; j < counts.length; j++) {
      const run = counts[j]!;
      if (j & 1) columns.fill(o.categoryId, at, at + run);
      at += run;
    }
  }
  // Transposed in bands of 32 columns, so that each row's writes are contiguous and the 32
  // columns being read stay in cache (a column at a time strides a whole row per write).
  const labels = new Int32Array(width * height);
  for (let x0 = 0; x0 < width; x0 += 32) {
    const x1 = Math.min(width, x0 + 32);
    for (let y = 0; y < height; y++) {
      for (let x = x0, to = y * width + x0, from = x0 * height + y; x < x1; x++, to++, from += height) labels[to] = columns[from]!;
    }
  }
  return labels;
}
