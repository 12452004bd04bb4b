import { applyBudgetedNoise, budgetSteps } from './apply.js';
import { classwiseSign, createClasswiseNoiseSource, GRATING_CODES, gratingCode } from './classwise.js';
import { NO_OBJECT, type NoiseRequest } from './types.js';

function request(id: string, width: number, height: number, labels: Int32Array): NoiseRequest {
  const image = { width, height, data: new Uint8Array(width * height * 3).fill(100) };
  const mask = new Uint8Array(width * height);
  for (let p = 0; p < mask.length; p++) mask[p] = labels[p] !== NO_OBJECT ? 1 : 0;
  return { id, image, prompt: { width, height, data: mask }, labels };
}

/** Left half class 1, right half class 2 (or `right`), bottom row no object. */
function halves(width: number, height: number, right = 2): Int32Array {
  const l = new Int32Array(width * height).fill(NO_OBJECT);
  for (let y = 0; y < height - 1; y++) for (let x = 0; x < width; x++) l[y * width + x] = x < width / 2 ? 1 : right;
  return l;
}

describe('createClasswiseNoiseSource', () => {
  it('asks for labels', () => {
    expect(createClasswiseNoiseSource().needsLabels).toBe(true);
  });

  it('writes the same pattern for a class in every image, whatever the image id', async () => {
    const src = createClasswiseNoiseSource({ seed: 5, cellSize: 4 });
    const w = 32;
    const h = 16;
    const [a, b] = await src.generate([request('a', w, h, halves(w, h)), request('b', w, h, halves(w, h, 7))]);
    for (let y = 0; y < h - 1; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          const i = (y * w + x) * 3 + c;
          if (x < w / 2) expect(b![i]).toBe(a![i]); // class 1 in both images
          expect(a![i]).toBe(classwiseSign(5, x < w / 2 ? 1 : 2, Math.floor(x / 4), Math.floor(y / 4), c));
        }
      }
    }
    // Class 2 and class 7 on the same pixels get different patterns.
    let differ = 0;
    for (let i = 0; i < a!.length; i++) if (a![i] !== b![i]) differ++;
    expect(differ).toBeGreaterThan(50);
    // Background (last row) gets no noise.
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) expect(a![((h - 1) * w + x) * 3 + c]).toBe(0);
  });

  it('is constant within a cell and depends on the seed', async () => {
    const w = 16;
    const labels = new Int32Array(w * w).fill(3);
    const [p] = await createClasswiseNoiseSource({ seed: 1, cellSize: 8 }).generate([request('x', w, w, labels)]);
    const [q] = await createClasswiseNoiseSource({ seed: 2, cellSize: 8 }).generate([request('x', w, w, labels)]);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) {
      expect(p![(y * w + x) * 3]).toBe(p![((y & ~7) * w + (x & ~7)) * 3]);
    }
    expect(Array.from(p!)).not.toEqual(Array.from(q!));
  });

  it('never exceeds the region budget once applied', async () => {
    const w = 24;
    const labels = halves(w, w);
    const req = request('b', w, w, labels);
    const [noise] = await createClasswiseNoiseSource({ cellSize: 2 }).generate([req]);
    const budget = { epsFg: 8 / 255, epsBg: 2 / 255 };
    const out = applyBudgetedNoise(req.image, noise!, req.prompt, budget);
    for (let i = 0; i < out.data.length; i++) {
      const fg = req.prompt.data[Math.floor(i / 3)] !== 0;
      const d = Math.abs(out.data[i]! - req.image.data[i]!);
      expect(d).toBeLessThanOrEqual(budgetSteps(fg ? budget.epsFg : budget.epsBg));
      if (fg) expect(d).toBe(8); // full budget everywhere inside a class
    }
  });

  it('codes category 0 like any other class (converters that number classes from 0 use it); only NO_OBJECT gets none', async () => {
    const w = 16;
    const labels = halves(w, w, 0); // class 1 | class 0, bottom row no object
    for (const pattern of ['cells', 'grating'] as const) {
      const [out] = await createClasswiseNoiseSource({ pattern, cellSize: 2 }).generate([request('z', w, w, labels)]);
      const at = (x: number, y: number) => Array.from(out!.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
      for (let y = 0; y < w - 1; y++) for (let x = w / 2; x < w; x++) expect(at(x, y).every((v) => Math.abs(v) === 1)).toBe(true);
      for (let x = 0; x < w; x++) expect(at(x, w - 1)).toEqual([0, 0, 0]);
      // Category 0's pattern is not category 1's: the right half is not the left half moved over.
      let differ = 0;
      const [one] = await createClasswiseNoiseSource({ pattern, cellSize: 2 }).generate([request('o', w, w, halves(w, w, 1))]);
      for (let i = 0; i < out!.length; i++) if (out![i] !== one![i]) differ++;
      expect(differ).toBeGreaterThan(20);
    }
    expect(gratingCode(0, 0)).not.toEqual(gratingCode(0, 1));
  });

  it('fails clearly without labels', async () => {
    const src = createClasswiseNoiseSource();
    const r = request('n', 4, 4, new Int32Array(16));
    await expect(src.generate([{ id: r.id, image: r.image, prompt: r.prompt }])).rejects.toThrow(/labels/);
  });

  it('rejects an unknown pattern', () => {
    expect(() => createClasswiseNoiseSource({ pattern: 'dots' as never })).toThrow(/pattern/);
  });
});

describe('classwise grating pattern', () => {
  it('gives the first twenty labels twenty different (orientation, colour) codes', () => {
    const codes = new Set<string>();
    for (let label = 1; label <= GRATING_CODES; label++) codes.add(JSON.stringify(gratingCode(3, label)));
    expect(GRATING_CODES).toBe(20);
    expect(codes.size).toBe(GRATING_CODES);
    expect(gratingCode(3, 1)).toEqual(gratingCode(3, 1 + GRATING_CODES));
  });

  it('gives any five consecutive labels five orientations, so that they differ in grey too', () => {
    for (const seed of [0, 7]) {
      for (let first = 1; first <= 16; first++) {
        const angles = new Set<number>();
        for (let label = first; label < first + 5; label++) {
          const [dx, dy] = gratingCode(seed, label).direction;
          angles.add(Math.round((Math.atan2(dy, dx) * 180) / Math.PI));
        }
        expect(angles.size).toBe(5);
      }
    }
  });

  it('gives any four consecutive labels four colours', () => {
    for (let first = 1; first <= 17; first++) {
      const colours = new Set<string>();
      for (let label = first; label < first + 4; label++) colours.add(JSON.stringify(gratingCode(0, label).colour));
      expect(colours.size).toBe(4);
    }
  });

  it('uses no orientation that a horizontal flip would turn into another one in use', () => {
    const inUse = new Set<number>();
    for (let label = 1; label <= GRATING_CODES; label++) {
      const [dx, dy] = gratingCode(0, label).direction;
      inUse.add(Math.round((Math.atan2(dy, dx) * 180) / Math.PI));
    }
    expect([...inUse].sort((a, b) => a - b)).toEqual([0, 30, 45, 60, 90]);
    // Flipping x maps angle a to 180 - a: 0 and 90 map to themselves, the others out of use.
    for (const a of inUse) if (a !== 0 && a !== 90) expect(inUse.has(180 - a)).toBe(false);
  });

  it('writes stripes of the given width in the class colour, the same in every image', async () => {
    const src = createClasswiseNoiseSource({ seed: 2, cellSize: 4, pattern: 'grating' });
    expect(src.settings).toEqual({ seed: 2, cellSize: 4, pattern: 'grating', orientations: 5, overlap: 'smaller', categoryZero: 'coded' });
    const w = 32;
    const labels = new Int32Array(w * w).fill(5);
    const [a, b] = await src.generate([request('a', w, w, labels), request('b', w, w, labels)]);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    const { direction, colour } = gratingCode(2, 5);
    for (let y = 0; y < w; y++) {
      for (let x = 0; x < w; x++) {
        const t = (x + 0.5) * direction[0] + (y + 0.5) * direction[1];
        const stripe = Math.floor(t / 4) % 2 === 0 ? 1 : -1;
        for (let c = 0; c < 3; c++) expect(a![(y * w + x) * 3 + c]).toBe(stripe * colour[c]!);
      }
    }
    // Both signs occur: stripes, not a flat offset.
    expect(new Set(Array.from(a!.subarray(0, w * w * 3).filter((_, i) => i % 3 === 0))).size).toBe(2);
  });

  it('keeps background pixels free of noise and leaves the cells pattern out of its settings', async () => {
    const w = 16;
    const labels = halves(w, w);
    const [g] = await createClasswiseNoiseSource({ pattern: 'grating', cellSize: 2 }).generate([request('g', w, w, labels)]);
    for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) expect(g![((w - 1) * w + x) * 3 + c]).toBe(0);
    expect(createClasswiseNoiseSource({ cellSize: 2 }).settings).toEqual({ seed: 0, cellSize: 2, overlap: 'smaller', categoryZero: 'coded' });
  });

  it('clears background pixels in an array it gets back and hands out again', async () => {
    const w = 16;
    for (const pattern of ['cells', 'grating'] as const) {
      const src = createClasswiseNoiseSource({ pattern, cellSize: 2 });
      const [full] = await src.generate([request('a', w, w, new Int32Array(w * w).fill(3))]);
      src.release!([full!]);
      const [again] = await src.generate([request('b', w, w, halves(w, w))]);
      expect(again).toBe(full); // the pooled array, so stale values were there to clear
      for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) expect(again![((w - 1) * w + x) * 3 + c]).toBe(0);
    }
  });

  it('defaults to 32-px cells and to 16-px stripes, and records the size it used', () => {
    expect(createClasswiseNoiseSource().settings).toEqual({ seed: 0, cellSize: 32, overlap: 'smaller', categoryZero: 'coded' });
    expect(createClasswiseNoiseSource({ pattern: 'grating' }).settings).toEqual({ seed: 0, cellSize: 16, pattern: 'grating', orientations: 5, overlap: 'smaller', categoryZero: 'coded' });
    expect(() => createClasswiseNoiseSource({ pattern: 'dots' as never })).toThrow(/pattern must be one of cells, grating, codes, got dots/);
  });
});
