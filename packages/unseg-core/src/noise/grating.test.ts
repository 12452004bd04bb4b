import { applyBudgetedNoise } from './apply.js';
import { stripeSign } from './classwise.js';
import { createGratingNoiseSource, GRATING_DIRECTIONS } from './grating.js';
import type { NoiseRequest } from './types.js';

/** A w x h grey image whose prompt is the left half. */
function request(id: string, w: number, h: number): NoiseRequest {
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w / 2; x++) mask[y * w + x] = 1;
  return { id, image: { width: w, height: h, data: new Uint8Array(w * h * 3).fill(128) }, prompt: { width: w, height: h, data: mask } };
}

describe('createGratingNoiseSource', () => {
  it('needs no labels', () => {
    expect(createGratingNoiseSource().needsLabels).toBeFalsy();
  });

  it('writes one fixed grating on the prompt, the same in every image, and nothing outside', async () => {
    const w = 32;
    const h = 24;
    const src = createGratingNoiseSource({ seed: 4, stripeWidth: 4 });
    const [a, b] = await src.generate([request('a', w, h), request('b', w, h)]);
    expect(Array.from(b!)).toEqual(Array.from(a!));
    const sign = stripeSign(GRATING_DIRECTIONS[0]!, 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) expect(a![(y * w + x) * 3 + c]).toBe(x < w / 2 ? sign(x, y) : 0);
      }
    }
  });

  it('makes stripes of the given width: the sign flips along the grating, every channel at +-1', async () => {
    const w = 64;
    const [d] = await createGratingNoiseSource({ stripeWidth: 8 }).generate([request('x', w, w)]);
    const values = new Set(Array.from(d!.subarray(0, (w / 2) * 3)));
    expect([...values].every((v) => v === 1 || v === -1)).toBe(true);
    // Grey: R, G and B carry the same sign everywhere.
    for (let p = 0; p < w * w; p++) {
      expect(d![p * 3 + 1]).toBe(d![p * 3]);
      expect(d![p * 3 + 2]).toBe(d![p * 3]);
    }
    // Along the first row's prompt part the red channel changes sign, but never within 3 pixels of a change.
    const red = Array.from({ length: w / 2 }, (_, x) => d![x * 3]!);
    const changes = red.flatMap((v, x) => (x > 0 && v !== red[x - 1] ? [x] : []));
    expect(changes.length).toBeGreaterThan(0);
    for (let i = 1; i < changes.length; i++) expect(changes[i]! - changes[i - 1]!).toBeGreaterThanOrEqual(4);
  });

  it('depends on the seed and rejects a bad stripe width', async () => {
    const codes = new Set<string>();
    for (let seed = 0; seed < 6; seed++) {
      const [d] = await createGratingNoiseSource({ seed, stripeWidth: 2 }).generate([request('s', 16, 16)]);
      codes.add(Array.from(d!).join(','));
    }
    expect(codes.size).toBeGreaterThan(1);
    expect(() => createGratingNoiseSource({ stripeWidth: 0 })).toThrow(/stripe width/);
    expect(() => createGratingNoiseSource({ stripeWidth: 2.5 })).toThrow(/stripe width/);
  });

  it('stays within each region budget once applied', async () => {
    const req = request('b', 20, 20);
    const [d] = await createGratingNoiseSource().generate([req]);
    const out = applyBudgetedNoise(req.image, d!, req.prompt, { epsFg: 8 / 255, epsBg: 2 / 255 });
    for (let p = 0; p < 400; p++) {
      for (let c = 0; c < 3; c++) {
        const change = Math.abs(out.data[p * 3 + c]! - 128);
        expect(change).toBeLessThanOrEqual(req.prompt.data[p] ? 8 : 0);
      }
    }
    expect(out.data.some((v) => v !== 128)).toBe(true);
  });
});
