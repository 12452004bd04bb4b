import { rleDecode, rleEncode } from '../masks/index.js';
import { NO_OBJECT } from '../noise/types.js';
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
      expect(labels[5 * w + 0]).toBe(NO_OBJECT);
    }
  });

  it('paints category 0 as a category, apart from the pixels no object covers', () => {
    const labels = paintCategoryLabels([{ rle: rect(w, h, 0, 0, 2, 2), categoryId: 0 }], w, h);
    expect(labels[0]).toBe(0);
    expect(labels[1 * w + 1]).toBe(0);
    expect(labels[2 * w + 2]).toBe(NO_OBJECT);
    expect(labels.filter((l) => l === 0).length).toBe(4);
  });

  it('keeps annotation order between objects of equal size', () => {
    const a = { rle: rect(w, h, 0, 0, 2, 2), categoryId: 1 };
    const b = { rle: rect(w, h, 0, 0, 2, 2), categoryId: 2 };
    expect(paintCategoryLabels([a, b], w, h)[0]).toBe(2);
    expect(paintCategoryLabels([b, a], w, h)[0]).toBe(1);
  });

  it('paints every pixel as decoding each mask, larger first, would (random overlapping shapes, non-square image)', () => {
    const [W, H] = [37, 23];
    let s = 7;
    const rand = (n: number) => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % n;
    };
    const objects = Array.from({ length: 12 }, (_, i) => {
      const data = new Uint8Array(W * H);
      const [cx, cy, r] = [rand(W), rand(H), 2 + rand(12)];
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < r * r || rand(9) === 0) data[y * W + x] = 1;
      return { rle: rleEncode({ width: W, height: H, data }), categoryId: i + 1, area: data.reduce((a, b) => a + b, 0) };
    });
    const expected = new Int32Array(W * H).fill(NO_OBJECT);
    for (const o of [...objects].sort((a, b) => b.area - a.area)) {
      rleDecode(o.rle).data.forEach((v, p) => {
        if (v) expected[p] = o.categoryId;
      });
    }
    expect(Array.from(paintCategoryLabels(objects, W, H))).toEqual(Array.from(expected));
  });

  it('refuses a mask of another size', () => {
    expect(() => paintCategoryLabels([facade], w + 1, h)).toThrow(RangeError);
  });
});
