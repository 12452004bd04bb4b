import { rleToSquare } from './data.js';

describe('rleToSquare', () => {
  it('area-downsamples a column-major RLE', () => {
    // 4x4 image, left two columns set (column-major: 8 ones first), then 8 zeros.
    const { mask, area } = rleToSquare({ height: 4, width: 4, counts: Uint32Array.from([0, 8, 8]) }, 2);
    expect(Array.from(mask)).toEqual([1, 0, 1, 0]);
    expect(area).toBe(0.5);
  });
  it('thresholds cells at half coverage', () => {
    // Only the top-left pixel of a 4x4 image (one pixel of a 2x2 cell: 1/4 covered).
    const { mask } = rleToSquare({ height: 4, width: 4, counts: Uint32Array.from([0, 1, 15]) }, 2);
    expect(Array.from(mask)).toEqual([0, 0, 0, 0]);
  });
});
