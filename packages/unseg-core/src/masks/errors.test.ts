import { UnsegError } from '../errors.js';
import {
  MaskFormatError,
  rleDecode,
  rleEncode,
  rleFromCounts,
  rleFromPolygons,
  rleFromSegmentation,
  rleFromString,
  rleToBbox,
  rleUnion,
} from './index.js';

function errorOf(fn: () => unknown): MaskFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MaskFormatError);
    return e as MaskFormatError;
  }
  throw new Error('expected a MaskFormatError, nothing was thrown');
}

describe('MaskFormatError', () => {
  it('is an UnsegError with code MASK_INVALID', () => {
    const e = errorOf(() => rleFromCounts([1], 2, 2));
    expect(e).toBeInstanceOf(UnsegError);
    expect(e.code).toBe('MASK_INVALID');
    expect(e.name).toBe('MaskFormatError');
  });
});

describe('uncompressed counts', () => {
  it('rejects counts not summing to height*width', () => {
    expect(errorOf(() => rleFromCounts([1, 2], 2, 2)).message).toBe(
      'RLE counts sum to 3 but a 2x2 (height x width) mask has 4 pixels',
    );
  });
  it.each([
    [[-1, 5], 0, '-1'],
    [[1.5, 2.5], 0, '1.5'],
    [[2, Number.NaN], 1, 'NaN'],
    [[0, '4' as unknown as number], 1, '4'],
  ])('rejects %j', (counts, index, shown) => {
    expect(errorOf(() => rleFromCounts(counts, 2, 2)).message).toBe(
      `RLE count at index ${index} is ${shown}: counts must be integers from 0 to 4294967295`,
    );
  });
});

describe('compressed strings', () => {
  it('rejects a sum that disagrees with the size', () => {
    // '6' decodes to the single count 6.
    expect(errorOf(() => rleFromString('6', 2, 2)).message).toBe(
      'RLE counts sum to 6 but a 2x2 (height x width) mask has 4 pixels',
    );
  });
  it('rejects chars outside ASCII 48..111', () => {
    expect(errorOf(() => rleFromString('1 3', 2, 2)).message).toBe(
      'compressed RLE counts: invalid char " " at offset 1 (allowed: ASCII 48..111)',
    );
    expect(errorOf(() => rleFromString('1p', 2, 2)).message).toMatch(/invalid char "p" at offset 1/);
  });
  it('rejects a value cut off after a continuation char', () => {
    // 'P' (0x50 - 48 = 0x20) has the continuation bit set and nothing follows.
    expect(errorOf(() => rleFromString('1P', 2, 2)).message).toBe(
      'compressed RLE counts: value starting at offset 1 is truncated (last char has the continuation bit)',
    );
  });
  it('rejects values longer than 7 chars', () => {
    expect(errorOf(() => rleFromString('PPPPPPP0', 2, 2)).message).toBe(
      'compressed RLE counts: value starting at offset 0 is longer than 7 chars',
    );
  });
  it('rejects values that decode to a negative count', () => {
    // '@' (64 - 48 = 0x10) is a single char whose only set bit is the sign bit: -16.
    expect(errorOf(() => rleFromString('@', 2, 2)).message).toBe(
      'compressed RLE counts: value 0 (offset 0) decodes to -16, outside 0..4294967295',
    );
  });
});

describe('polygons', () => {
  it('rejects fewer than 3 points', () => {
    expect(errorOf(() => rleFromPolygons([[0, 0, 1, 1]], 4, 4)).message).toBe(
      'polygon 0 has 4 numbers: a polygon needs at least 3 points (6 numbers)',
    );
  });
  it('rejects an odd number of coordinates (pycocotools would drop the last)', () => {
    expect(errorOf(() => rleFromPolygons([[0, 0, 3, 0, 3, 3], [0, 0, 1, 0, 1, 1, 0]], 4, 4)).message).toBe(
      'polygon 1 has an odd number of coordinates (7): expected x,y pairs',
    );
  });
  it.each([Number.NaN, Infinity, -Infinity, '2' as unknown as number, null as unknown as number])(
    'rejects the coordinate %p',
    (v) => {
      expect(errorOf(() => rleFromPolygons([[0, 0, 3, v, 3, 3]], 4, 4)).message).toBe(
        `polygon 0 coordinate 3 is not a finite number: ${String(v)}`,
      );
    },
  );
  it('rejects coordinates beyond the 32-bit range pycocotools rounds into', () => {
    expect(errorOf(() => rleFromPolygons([[0, 0, 5e8, 0, 3, 3]], 4, 4)).message).toBe(
      'polygon 0 coordinate 2 is out of range: 500000000',
    );
  });
  it('rejects a polygon that is not an array', () => {
    expect(errorOf(() => rleFromPolygons([{} as unknown as number[]], 4, 4)).message).toBe(
      'polygon 0 is not an array of numbers',
    );
  });
});

describe('segmentation shapes', () => {
  it('rejects a size that disagrees with the image', () => {
    expect(errorOf(() => rleFromSegmentation({ size: [3, 4], counts: [12] }, 4, 3)).message).toBe(
      "segmentation size [3, 4] disagrees with the image's height 4 and width 3",
    );
  });
  it('rejects a malformed size', () => {
    expect(errorOf(() => rleFromSegmentation({ size: [3], counts: 'c0' }, 3, 4)).message).toBe(
      'segmentation size must be [height, width] as two non-negative integers, got [3]',
    );
  });
  it.each([
    [null, 'got null'],
    [42, 'got number'],
    [{ counts: [12] }, 'got an object with keys [counts]'],
    [{ size: [3, 4], counts: { a: 1 } }, 'counts is an object with keys [a]'],
    [[0, 0, 1, 0, 1, 1], 'an array whose items are not all arrays'],
  ])('rejects %j', (segmentation, detail) => {
    expect(errorOf(() => rleFromSegmentation(segmentation, 3, 4)).message).toBe(
      `unknown segmentation shape: ${detail}; expected a polygon list, {size: [h, w], counts: string} or {size: [h, w], counts: number[]}`,
    );
  });
  it('passes count errors through', () => {
    expect(errorOf(() => rleFromSegmentation({ size: [3, 4], counts: [5, 5] }, 3, 4)).message).toMatch(
      /^RLE counts sum to 10/,
    );
  });
});

describe('dimensions and hand-built RLEs', () => {
  it('rejects bad dimensions', () => {
    expect(errorOf(() => rleFromCounts([], -1, 2)).message).toBe(
      'mask height and width must be non-negative integers, got height -1, width 2',
    );
    expect(errorOf(() => rleFromString('', 70000, 70000)).message).toBe(
      "mask of 70000x70000 pixels is larger than COCO RLE's 32-bit counts allow",
    );
  });
  it('rejects an Rle whose counts do not cover the mask', () => {
    const bad = { height: 2, width: 2, counts: Uint32Array.of(1, 2) };
    expect(errorOf(() => rleDecode(bad)).message).toMatch(/^RLE counts sum to 3/);
    expect(errorOf(() => rleToBbox(bad)).message).toMatch(/^RLE counts sum to 3/);
  });
  it('rejects union members of another size', () => {
    const a = rleFromCounts([4], 2, 2);
    const b = rleFromCounts([6], 2, 3);
    expect(errorOf(() => rleUnion([a, b], 2, 2)).message).toBe(
      'rleUnion: RLE 1 is 2x3 (height x width) but the union is 2x2',
    );
  });
  it('rejects mask data of the wrong length', () => {
    expect(errorOf(() => rleEncode({ height: 2, width: 2, data: new Uint8Array(3) })).message).toBe(
      'mask data must be a Uint8Array of height*width = 4 bytes, got 3',
    );
  });
});
