// Property tests (fast-check) of the budget guarantee: for any image, noise direction (NaN,
// infinities and huge values included), prompt and budget, what is published, once encoded to
// PNG and decoded again, is within the per-region budget; and any change over the budget, in
// either region and either direction, is caught by measureNoise + budgetViolation.
import fc from 'fast-check';
import { decodeRgb, encodeRgb } from '../image/codec.js';
import type { RgbImage } from '../image/types.js';
import type { BinaryMask } from '../masks/types.js';
import { applyBudgetedNoise, budgetSteps } from '../noise/apply.js';
import { budgetViolation, measureNoise } from './verify.js';

interface Case {
  image: RgbImage;
  prompt: BinaryMask;
  noise: Float32Array;
  budget: { epsFg: number; epsBg: number };
}

const eps = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((k) => k / 255),
  fc.double({ min: 0, max: 1, noNaN: true }),
);

const anyCase: fc.Arbitrary<Case> = fc
  .record({ width: fc.integer({ min: 1, max: 9 }), height: fc.integer({ min: 1, max: 7 }) })
  .chain(({ width, height }) => {
    const n = width * height;
    return fc.record({
      image: fc.uint8Array({ minLength: n * 3, maxLength: n * 3 }).map((data) => ({ width, height, data })),
      prompt: fc.array(fc.boolean(), { minLength: n, maxLength: n }).map((b) => ({ width, height, data: Uint8Array.from(b, Number) })),
      // Sources promise [-1, 1]; the engine must hold the budget even when one breaks that promise.
      noise: fc
        .array(fc.oneof(fc.double({ min: -1, max: 1, noNaN: true }), fc.float(), fc.constantFrom(NaN, Infinity, -Infinity, 1e30, -1e30)), {
          minLength: n * 3,
          maxLength: n * 3,
        })
        .map((v) => Float32Array.from(v)),
      budget: fc.record({ epsFg: eps, epsBg: eps }),
    });
  });

/** The largest |delta| per region, computed the slow, obvious way. */
function reference(a: RgbImage, b: RgbImage, prompt: BinaryMask): { fg: number; bg: number; meanAbs: number; promptFraction: number } {
  let fg = 0;
  let bg = 0;
  let sum = 0;
  let inside = 0;
  for (let p = 0; p < a.width * a.height; p++) {
    if (prompt.data[p]) inside++;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(a.data[p * 3 + c]! - b.data[p * 3 + c]!);
      sum += d;
      if (prompt.data[p]) fg = Math.max(fg, d);
      else bg = Math.max(bg, d);
    }
  }
  const n = a.width * a.height;
  return { fg, bg, meanAbs: sum / (n * 3), promptFraction: inside / n };
}

describe('the budget guarantee', () => {
  it('the published (PNG-encoded, re-decoded) change is within the budget per region', async () => {
    await fc.assert(
      fc.asyncProperty(anyCase, async ({ image, prompt, noise, budget }) => {
        const protectedImage = applyBudgetedNoise(image, noise, prompt, budget);
        const published = (await decodeRgb(await encodeRgb(protectedImage))).image;
        const stats = measureNoise(image, published, prompt);
        expect(budgetViolation(stats, budget)).toBeUndefined();
        const r = reference(image, published, prompt);
        expect([stats.maxAbsFg, stats.maxAbsBg]).toEqual([r.fg, r.bg]);
        expect(stats.meanAbs).toBeCloseTo(r.meanAbs, 12);
        expect(stats.promptFraction).toBeCloseTo(r.promptFraction, 12);
        expect(r.fg).toBeLessThanOrEqual(budgetSteps(budget.epsFg));
        expect(r.bg).toBeLessThanOrEqual(budgetSteps(budget.epsBg));
      }),
      { numRuns: 200, seed: 1 },
    );
  });

  it('a change over the budget anywhere, in either region and direction, is always caught', () => {
    fc.assert(
      fc.property(anyCase, fc.nat(), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (c, at, channel, over, up) => {
        const { image, prompt, noise, budget } = c;
        const published = applyBudgetedNoise(image, noise, prompt, budget);
        const p = at % (image.width * image.height);
        const inside = prompt.data[p] !== 0;
        const limit = budgetSteps(inside ? budget.epsFg : budget.epsBg);
        const i = p * 3 + channel;
        const original = image.data[i]!;
        const delta = limit + over;
        // Only changes an 8-bit pixel can hold; otherwise try the other direction.
        const target = up ? original + delta : original - delta;
        const value = target >= 0 && target <= 255 ? target : up ? original - delta : original + delta;
        fc.pre(value >= 0 && value <= 255);
        const tampered = { ...published, data: Uint8Array.from(published.data) };
        tampered.data[i] = value;
        const violation = budgetViolation(measureNoise(image, tampered, prompt), budget);
        expect(violation).toBeDefined();
        expect(violation).toMatch(inside ? /inside the prompt is \d+\/255/ : /outside the prompt is \d+\/255/);
      }),
      { numRuns: 1000, seed: 2 },
    );
  });

  it('a change of exactly the budget passes (the check is not stricter than the guarantee)', () => {
    fc.assert(
      fc.property(anyCase, ({ image, prompt, budget }) => {
        const fg = budgetSteps(budget.epsFg);
        const bg = budgetSteps(budget.epsBg);
        const data = Uint8Array.from(image.data, (v, i) => {
          const limit = prompt.data[Math.floor(i / 3)] ? fg : bg;
          return v + limit <= 255 ? v + limit : v - limit;
        });
        expect(budgetViolation(measureNoise(image, { ...image, data }, prompt), budget)).toBeUndefined();
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});
