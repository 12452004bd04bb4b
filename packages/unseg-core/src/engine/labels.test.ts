import { rleEncode } from '../masks/index.js';
import { paintCategoryLabels } from './labels.js';

/** A w x h mask with the rectangle [x0, x1) x [y0, y1) set. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number) {
  const data = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * w + x] = 1;
  return rleEncode({ width: w, height: h, data });
}

describe('paintCategoryLabels', () => {
  const w = 8;
  const h = 6;
  const facade = { rle: rect(w, h, 0, 0, 8, 4), categoryId: 3 };
  const window = { rle: rect(w, h, 2, 1, 4, 3), categoryId: 10 };

  it('keeps a small object on a large one, in whichever order they are listed', () => {
    for (const objects of [
      [window, facade],
      [facade, window],
    ]) {
      const labels = paintCategoryLabels(objects, w, h);
      expect(labels[1 * w + 2]).toBe(10);
      expect(labels[2 * w + 3]).toBe(10);
      expect(labels[0]).toBe(3);
      expect(labels[3 * w + 7]).toBe(3);
      expect(labels[5 * w + 0]).toBe(0);
    }
  });

  it('keeps annotation order between objects of equal size', () => {
    const a = { rle: rect(w, h, 0, 0, 2, 2), categoryId: 1 };
    const b = { rle: rect(w, h, 0, 0, 2, 2), categoryId: 2 };
    expect(paintCategoryLabels([a, b], w, h)[0]).toBe(2);
    expect(paintCategoryLabels([b, a], w, h)[0]).toBe(1);
  });
});
