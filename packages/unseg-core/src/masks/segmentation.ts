import { MaskFormatError } from './errors.js';
import { rleFromPolygons } from './polygon.js';
import { checkDimensions, rleFromCounts, rleFromString } from './rle.js';
import type { Rle } from './types.js';

const SHAPES = 'expected a polygon list, {size: [h, w], counts: string} or {size: [h, w], counts: number[]}';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? `an object with keys [${Object.keys(value).join(', ')}]` : typeof value;
}

/**
 * Any segmentation a COCO-style JSON holds, for an image of height x width, as pycocotools'
 * COCO.annToRLE reads it. The RLE forms must state the image's size: pycocotools would trust
 * `size` and hand back a mask that does not fit the image.
 */
export function rleFromSegmentation(segmentation: unknown, height: number, width: number): Rle {
  checkDimensions(height, width);
  if (Array.isArray(segmentation)) {
    if (!segmentation.every((p) => Array.isArray(p))) {
      throw new MaskFormatError(`unknown segmentation shape: an array whose items are not all arrays; ${SHAPES}`);
    }
    return rleFromPolygons(segmentation as number[][], height, width);
  }
  if (typeof segmentation === 'object' && segmentation !== null && 'size' in segmentation && 'counts' in segmentation) {
    const { size, counts } = segmentation as { size: unknown; counts: unknown };
    if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) {
      throw new MaskFormatError(`segmentation size must be [height, width] as two non-negative integers, got ${JSON.stringify(size)}`);
    }
    const [sh, sw] = size as [number, number];
    if (sh !== height || sw !== width) {
      throw new MaskFormatError(
        `segmentation size [${sh}, ${sw}] disagrees with the image's height ${height} and width ${width}`,
      );
    }
    if (typeof counts === 'string') return rleFromString(counts, height, width);
    if (Array.isArray(counts)) return rleFromCounts(counts as number[], height, width);
    throw new MaskFormatError(`unknown segmentation shape: counts is ${describe(counts)}; ${SHAPES}`);
  }
  throw new MaskFormatError(`unknown segmentation shape: got ${describe(segmentation)}; ${SHAPES}`);
}
