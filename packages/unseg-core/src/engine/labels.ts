import { rleArea, rleDecode } from '../masks/index.js';
import type { Rle } from '../masks/types.js';

/** One object as the label map sees it. */
export interface LabelledMask {
  readonly rle: Rle;
  readonly categoryId: number;
}

/**
 * The per-pixel category map that class-wise noise is keyed by (0 = no object). Where objects
 * overlap, the smaller one wins, whatever order the annotation lists them in: a window drawn on a
 * facade is a window, as in the semantic map a trainer builds from the same objects. Painted in
 * annotation order instead, 15 % of coco-facades' object pixels got the code of the facade under
 * a window or a tree, so the code disagreed with the class a trainer learns there.
 */
export function paintCategoryLabels(objects: readonly LabelledMask[], width: number, height: number): Int32Array {
  const labels = new Int32Array(width * height);
  const bySize = objects.map((o) => ({ o, area: rleArea(o.rle) })).sort((a, b) => b.area - a.area);
  for (const { o } of bySize) {
    const m = rleDecode(o.rle).data;
    for (let p = 0; p < m.length; p++) if (m[p]) labels[p] = o.categoryId;
  }
  return labels;
}
