import { DEFAULT_PROMPTS, makePrompt, pickPromptKind, PROMPT_CHANNELS } from './prompts.js';
import { Rng } from './rng.js';

const h = 32, w = 32;
const mask = new Uint8Array(h * w).map((_, i) => {
  const x = i % w, y = Math.floor(i / w);
  return x >= 8 && x < 20 && y >= 10 && y < 26 ? 1 : 0;
});

function channel(p: Float32Array, c: number): number[] {
  return Array.from({ length: h * w }, (_, i) => p[i * PROMPT_CHANNELS + c]!);
}

describe('prompts', () => {
  it('point prompts peak inside the object and give no box or mask', () => {
    const rng = new Rng(1);
    for (let k = 0; k < 20; k++) {
      const p = makePrompt(mask, h, w, DEFAULT_PROMPTS, rng, 'points');
      const pts = channel(p, 0);
      const peaks = pts.map((v, i) => (v === 1 ? i : -1)).filter((i) => i >= 0);
      expect(peaks.length).toBeGreaterThanOrEqual(1);
      expect(peaks.length).toBeLessThanOrEqual(DEFAULT_PROMPTS.maxPoints);
      for (const i of peaks) expect(mask[i]).toBe(1);
      expect(channel(p, 1).every((v) => v === 0)).toBe(true);
      expect(channel(p, 2).every((v) => v === 0)).toBe(true);
    }
  });
  it('a box prompt roughly covers the object box', () => {
    const p = makePrompt(mask, h, w, DEFAULT_PROMPTS, new Rng(2), 'box');
    const box = channel(p, 1);
    const covered = box.filter((v, i) => v === 1 && mask[i] === 1).length;
    expect(covered / mask.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.6);
  });
  it('a mask prompt is degraded, not the mask itself', () => {
    const p = makePrompt(mask, h, w, { ...DEFAULT_PROMPTS, maskGrid: 4 }, new Rng(3), 'mask');
    const m = channel(p, 2);
    const same = m.filter((v, i) => v === mask[i]).length;
    expect(same).toBeLessThan(h * w);
    expect(same).toBeGreaterThan(h * w * 0.6);
  });
  it('prompt kinds follow their frequencies', () => {
    const rng = new Rng(4);
    const counts = { points: 0, box: 0, mask: 0 };
    for (let i = 0; i < 2000; i++) counts[pickPromptKind(DEFAULT_PROMPTS, rng)]++;
    expect(counts.points / 2000).toBeCloseTo(0.7, 1);
    expect(counts.box / 2000).toBeCloseTo(0.2, 1);
    expect(counts.mask / 2000).toBeCloseTo(0.1, 1);
  });
  it('an empty mask gives an empty prompt', () => {
    expect(makePrompt(new Uint8Array(h * w), h, w, DEFAULT_PROMPTS, new Rng(5)).every((v) => v === 0)).toBe(true);
  });
});
