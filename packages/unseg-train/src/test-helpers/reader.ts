import type { DatasetReader, Rle, Sample, SampleError } from '@unseg/core';
import sharp from 'sharp';
import { tinySet } from './tiny.js';

/** Column-major COCO runs (starting with 0s) of a row-major h x w 0/1 mask. */
export function maskToRle(mask: Uint8Array, h: number, w: number): Rle {
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x]!;
      if (v !== value) {
        counts.push(run);
        value = v;
        run = 0;
      }
      run++;
    }
  }
  counts.push(run);
  return { height: h, width: w, counts: Uint32Array.from(counts) };
}

export type TinyItem = Sample | SampleError;

/** tinySet's images and masks as PNG samples of a DatasetReader, so that trainGenerator can read them. */
export async function tinySamples(size = 16): Promise<Sample[]> {
  const set = tinySet(size);
  return Promise.all(
    set.images.map(async (img, k) => {
      const png = await sharp(Buffer.from(img.map((v) => Math.round(v * 255))), { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
      const rle = maskToRle(set.masks[k]![0]!, size, size);
      return {
        id: `img${k}`,
        split: 'train',
        image: { kind: 'bytes' as const, bytes: new Uint8Array(png), name: `img${k}.png` },
        width: size,
        height: size,
        objects: [{ id: '1', categoryId: 1, category: 'object', isThing: true, isCrowd: false, bbox: [0, 0, size, size] as const, annotation: null, mask: async () => rle }],
      };
    }),
  );
}

/** A reader over the given samples (split "train"); `root` is only recorded. */
export function tinyReader(items: readonly TinyItem[], root = '/tiny-data'): DatasetReader {
  return {
    root,
    splits: async () => ['train'],
    categories: async () => [],
    async *samples() {
      yield* items;
    },
  };
}
