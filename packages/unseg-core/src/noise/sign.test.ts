import { applyBudgetedNoise, budgetSteps } from './apply.js';
import { createSignNoiseSource, signTexture, workingGrid } from './sign.js';
import type { NoiseRequest } from './types.js';

function request(id: string, width: number, height: number, fill = 128): NoiseRequest {
  const data = new Uint8Array(width * height * 3).fill(fill);
  const mask = new Uint8Array(width * height);
  for (let p = 0; p < mask.length; p++) mask[p] = p % 3 === 0 ? 1 : 0;
  return { id, image: { width, height, data }, prompt: { width, height, data: mask } };
}

describe('createSignNoiseSource', () => {
  it('is reproducible per (seed, id) and differs across ids and seeds', async () => {
    const a = createSignNoiseSource({ seed: 1, workingSize: 16 });
    const [x1, x2] = await a.generate([request('img-a', 64, 48), request('img-b', 64, 48)]);
    const [again] = await createSignNoiseSource({ seed: 1, workingSize: 16 }).generate([request('img-a', 64, 48)]);
    const [otherSeed] = await createSignNoiseSource({ seed: 2, workingSize: 16 }).generate([request('img-a', 64, 48)]);
    expect(Array.from(again!)).toEqual(Array.from(x1!));
    expect(Array.from(x2!)).not.toEqual(Array.from(x1!));
    expect(Array.from(otherSeed!)).not.toEqual(Array.from(x1!));
  });

  it('stays in [-1, 1] with roughly balanced signs', () => {
    const t = signTexture(128, 128, 'x', 0, 32, 'nearest');
    let pos = 0;
    for (const v of t) {
      expect(Math.abs(v)).toBe(1);
      if (v > 0) pos++;
    }
    expect(pos / t.length).toBeGreaterThan(0.4);
    expect(pos / t.length).toBeLessThan(0.6);
    for (const v of signTexture(100, 60, 'x', 0, 32, 'bilinear')) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('is constant within a working cell (nearest) and smooth between cells (bilinear)', () => {
    const w = 64;
    const cell = 8; // workingSize 8 on a 64-px image
    const n = signTexture(w, w, 'cells', 3, w / cell, 'nearest');
    for (let y = 0; y < w; y++) {
      for (let x = 0; x < w; x++) {
        const anchor = ((Math.floor(y / cell) * cell) * w + Math.floor(x / cell) * cell) * 3;
        expect(n[(y * w + x) * 3]).toBe(n[anchor]);
      }
    }
    // Bilinear: neighbouring pixels differ by at most the full swing (2) over one cell.
    const b = signTexture(w, w, 'cells', 3, w / cell, 'bilinear');
    let maxStep = 0;
    for (let y = 0; y < w; y++) {
      for (let x = 1; x < w; x++) {
        maxStep = Math.max(maxStep, Math.abs(b[(y * w + x) * 3]! - b[(y * w + x - 1) * 3]!));
      }
    }
    expect(maxStep).toBeLessThanOrEqual(2 / cell + 1e-6);
    expect(maxStep).toBeGreaterThan(0);
  });

  it('keeps the aspect ratio of the working grid', () => {
    expect(workingGrid(1024, 512, 128)).toEqual({ gw: 128, gh: 64 });
    expect(workingGrid(10, 2000, 128)).toEqual({ gw: 1, gh: 128 });
  });

  it('never exceeds the region budget once applied', async () => {
    const src = createSignNoiseSource({ seed: 9, workingSize: 8 });
    const req = request('budget', 40, 30, 250);
    const [noise] = await src.generate([req]);
    const budget = { epsFg: 8 / 255, epsBg: 2 / 255 };
    const out = applyBudgetedNoise(req.image, noise!, req.prompt, budget);
    let usedFg = 0;
    for (let i = 0; i < out.data.length; i++) {
      const limit = req.prompt.data[Math.floor(i / 3)] ? budgetSteps(budget.epsFg) : budgetSteps(budget.epsBg);
      const d = Math.abs(out.data[i]! - req.image.data[i]!);
      expect(d).toBeLessThanOrEqual(limit);
      if (limit === 8) usedFg = Math.max(usedFg, d);
    }
    // Some foreground pixels reach the full budget (at cell centres, or clipped at 255).
    expect(usedFg).toBeGreaterThanOrEqual(5);
  });

  it('rejects a bad working size', () => {
    expect(() => createSignNoiseSource({ workingSize: 0 })).toThrow(RangeError);
  });
});
