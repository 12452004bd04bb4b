import type { Rng } from './rng.js';

/**
 * Prompt channels given to the surrogate S: [points heatmap, filled box, degraded mask].
 * A prototype showed that with box and clean-ish mask prompts S copies the prompt and ignores
 * the image, so G's noise cannot matter to it. Points (1..maxPoints Gaussian blobs) leave S
 * the real work of finding the extent of the object in the image; boxes come only sometimes
 * and the mask prompt is rare and heavily degraded (coarse grid, shifted).
 */
export interface PromptOptions {
  /** Relative frequencies of the prompt kinds; points are added to box and mask prompts too. */
  readonly points: number;
  readonly box: number;
  readonly mask: number;
  readonly maxPoints: number;
  /** Gaussian sigma of a point, as a fraction of the image's short side. */
  readonly pointSigma: number;
  /** The degraded mask is the object averaged on a grid of this many cells per side. */
  readonly maskGrid: number;
}

export const DEFAULT_PROMPTS: PromptOptions = { points: 0.7, box: 0.2, mask: 0.1, maxPoints: 3, pointSigma: 1 / 32, maskGrid: 8 };

export const PROMPT_CHANNELS = 3;

export type PromptKind = 'points' | 'box' | 'mask';

export function pickPromptKind(options: PromptOptions, rng: Rng): PromptKind {
  const total = options.points + options.box + options.mask;
  const r = rng.next() * total;
  if (r < options.points) return 'points';
  if (r < options.points + options.box) return 'box';
  return 'mask';
}

/** HWC prompt channels (h*w*3) for a binary mask (h*w, row-major). */
export function makePrompt(mask: Uint8Array, h: number, w: number, options: PromptOptions, rng: Rng, kind?: PromptKind): Float32Array {
  const out = new Float32Array(h * w * PROMPT_CHANNELS);
  const k = kind ?? pickPromptKind(options, rng);
  const inside: number[] = [];
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let i = 0; i < h * w; i++) {
    if (mask[i]) {
      inside.push(i);
      const y = Math.floor(i / w), x = i % w;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (inside.length === 0) return out;
  const nPoints = k === 'points' ? 1 + rng.int(options.maxPoints) : rng.int(2);
  const sigma = Math.max(1, options.pointSigma * Math.min(h, w));
  for (let p = 0; p < nPoints; p++) {
    const idx = inside[rng.int(inside.length)]!;
    const py = Math.floor(idx / w), px = idx % w;
    const r = Math.ceil(3 * sigma);
    for (let y = Math.max(0, py - r); y <= Math.min(h - 1, py + r); y++) {
      for (let x = Math.max(0, px - r); x <= Math.min(w - 1, px + r); x++) {
        const v = Math.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma * sigma));
        const o = (y * w + x) * PROMPT_CHANNELS;
        if (v > out[o]!) out[o] = v;
      }
    }
  }
  if (k === 'box') {
    // Jitter each side by up to 10% of the box size, as real box prompts are loose.
    const jx = Math.max(1, Math.round(0.1 * (x1 - x0 + 1)));
    const jy = Math.max(1, Math.round(0.1 * (y1 - y0 + 1)));
    const bx0 = Math.max(0, x0 + rng.int(2 * jx + 1) - jx), bx1 = Math.min(w - 1, x1 + rng.int(2 * jx + 1) - jx);
    const by0 = Math.max(0, y0 + rng.int(2 * jy + 1) - jy), by1 = Math.min(h - 1, y1 + rng.int(2 * jy + 1) - jy);
    for (let y = by0; y <= by1; y++) for (let x = bx0; x <= bx1; x++) out[(y * w + x) * PROMPT_CHANNELS + 1] = 1;
  } else if (k === 'mask') {
    const g = Math.max(1, options.maskGrid);
    const cellH = h / g, cellW = w / g;
    const sum = new Float32Array(g * g), cnt = new Float32Array(g * g);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const c = Math.min(g - 1, Math.floor(y / cellH)) * g + Math.min(g - 1, Math.floor(x / cellW));
        sum[c]! += mask[y * w + x]!;
        cnt[c]! += 1;
      }
    }
    const dy = rng.int(Math.ceil(cellH)) - Math.floor(cellH / 2), dx = rng.int(Math.ceil(cellW)) - Math.floor(cellW / 2);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sy = Math.min(h - 1, Math.max(0, y - dy)), sx = Math.min(w - 1, Math.max(0, x - dx));
        const c = Math.min(g - 1, Math.floor(sy / cellH)) * g + Math.min(g - 1, Math.floor(sx / cellW));
        out[(y * w + x) * PROMPT_CHANNELS + 2] = sum[c]! / cnt[c]! >= 0.5 ? 1 : 0;
      }
    }
  }
  return out;
}
