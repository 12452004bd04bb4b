import { loadTrainingSet, rleToSquare } from './data.js';
import { maskToRle, tinyReader, tinySamples } from './test-helpers/reader.js';

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

describe('loadTrainingSet label maps', () => {
  it('gives overlapping pixels the smaller object, whatever the annotation order (as the pipeline paints)', async () => {
    const size = 16;
    const [sample] = await tinySamples(size);
    const big = new Uint8Array(size * size).fill(1);
    const small = new Uint8Array(size * size).map((_, p) => (Math.floor(p / size) < 4 && p % size < 4 ? 1 : 0));
    const object = (id: string, categoryId: number, m: Uint8Array) => ({ ...sample!.objects[0]!, id, categoryId, mask: async () => maskToRle(m, size, size) });
    // The small object first: painted in annotation order the big one would cover it.
    const set = await loadTrainingSet([{ reader: tinyReader([{ ...sample!, objects: [object('s', 2, small), object('b', 1, big)] }]), split: 'train' }], { size, withLabels: true, maxArea: 1 });
    const labels = set.labels![0]!;
    expect(labels[0]).toBe(3); // category 2 + 1, the small object
    expect(labels[size * size - 1]).toBe(2); // category 1 + 1, the big one elsewhere
    // The size before the resize, for train-codes' --publish-cell auto.
    expect(set.sourceSizes).toEqual([{ width: sample!.width, height: sample!.height }]);
  });
});
