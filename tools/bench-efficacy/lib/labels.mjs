// Semantic label maps from the published per-object RLEs. Pure functions, tested.

export const IGNORE = 255;

/** Sum of the 1-runs of an RLE's counts (odd positions). */
export function rleArea(counts) {
  let a = 0;
  for (let j = 1; j < counts.length; j += 2) a += counts[j];
  return a;
}

/**
 * Paints objects into a row-major Uint8Array label map (0 = background). Largest objects are
 * painted first, so a smaller object lying on a larger one (a window on a facade, a car on the
 * street) stays visible whatever order the annotator drew them in. `classOf(category_id)` gives
 * the label (1..K) or undefined to skip (coco-facades' unused placeholder category 0).
 * Each object is `{ category_id, rle: { height, width, counts } }` with COCO's column-major runs.
 */
export function paintLabels(objects, width, height, classOf) {
  const labels = new Uint8Array(width * height);
  const items = [];
  for (const o of objects) {
    const cls = classOf(o.category_id);
    if (cls === undefined) continue;
    if (o.rle.width !== width || o.rle.height !== height) {
      throw new RangeError(`object RLE is ${o.rle.width}x${o.rle.height}, image is ${width}x${height}`);
    }
    items.push({ cls, counts: o.rle.counts, area: rleArea(o.rle.counts) });
  }
  items.sort((a, b) => b.area - a.area);
  for (const { cls, counts } of items) {
    let idx = 0;
    for (let j = 0; j < counts.length; j++) {
      const n = counts[j];
      if (j & 1) {
        let y = idx % height;
        let x = (idx - y) / height;
        for (let k = 0; k < n; k++) {
          labels[y * width + x] = cls;
          if (++y === height) {
            y = 0;
            x++;
          }
        }
      }
      idx += n;
    }
  }
  return labels;
}

/** Nearest-neighbour resampling of a label map (pixel centres), never mixing labels. */
export function resizeLabelsNearest(labels, width, height, tw, th) {
  const out = new Uint8Array(tw * th);
  for (let y = 0; y < th; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / th));
    for (let x = 0; x < tw; x++) {
      const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / tw));
      out[y * tw + x] = labels[sy * width + sx];
    }
  }
  return out;
}
