// Training-time augmentation in plain JS on 8-bit HWC images, after mmsegmentation's default
// pipeline: RandomResize (ratio 0.5-2.0), RandomCrop, RandomFlip (0.5), PhotoMetricDistortion,
// padding the crop (image 0, label ignore) when the scaled image is smaller than it.
import { IGNORE } from './labels.mjs';

/** mulberry32: seeded uniform floats in [0, 1), so a (seed, step) replays exactly. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const uni = (r, a, b) => a + (b - a) * r();

/**
 * Scale by s, then crop `crop` x `crop` at a random offset, and maybe flip; done in one pass by
 * mapping each output pixel back to the source (bilinear for the image, nearest for labels).
 */
export function scaleCropFlip(img, labels, w, h, crop, r, scaleRange = [0.5, 2.0]) {
  const s = uni(r, scaleRange[0], scaleRange[1]);
  const sw = Math.max(1, Math.round(w * s));
  const sh = Math.max(1, Math.round(h * s));
  const ox = sw > crop ? Math.floor(r() * (sw - crop + 1)) : 0;
  const oy = sh > crop ? Math.floor(r() * (sh - crop + 1)) : 0;
  const flip = r() < 0.5;
  const out = new Float32Array(crop * crop * 3);
  const lab = new Uint8Array(crop * crop).fill(IGNORE);
  const fx = w / sw;
  const fy = h / sh;
  for (let y = 0; y < crop; y++) {
    const ty = y + oy;
    if (ty >= sh) break;
    const syf = Math.min(h - 1, Math.max(0, (ty + 0.5) * fy - 0.5));
    const y0 = Math.floor(syf);
    const y1 = Math.min(h - 1, y0 + 1);
    const wy = syf - y0;
    const ny = Math.min(h - 1, Math.floor((ty + 0.5) * fy));
    for (let x = 0; x < crop; x++) {
      const tx = x + ox;
      if (tx >= sw) break;
      const sxf = Math.min(w - 1, Math.max(0, (tx + 0.5) * fx - 0.5));
      const x0 = Math.floor(sxf);
      const x1 = Math.min(w - 1, x0 + 1);
      const wx = sxf - x0;
      const nx = Math.min(w - 1, Math.floor((tx + 0.5) * fx));
      const dx = flip ? crop - 1 - x : x;
      const o = (y * crop + dx) * 3;
      for (let c = 0; c < 3; c++) {
        const top = img[(y0 * w + x0) * 3 + c] * (1 - wx) + img[(y0 * w + x1) * 3 + c] * wx;
        const bot = img[(y1 * w + x0) * 3 + c] * (1 - wx) + img[(y1 * w + x1) * 3 + c] * wx;
        out[o + c] = top * (1 - wy) + bot * wy;
      }
      lab[y * crop + dx] = labels[ny * w + nx];
    }
  }
  return { image: out, labels: lab, scale: s, flip };
}

function rgbToHsv(r, g, b) {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  let hue = 0;
  if (d > 0) {
    if (max === r) hue = ((g - b) / d) % 6;
    else if (max === g) hue = (b - r) / d + 2;
    else hue = (r - g) / d + 4;
    hue *= 60;
    if (hue < 0) hue += 360;
  }
  return [hue, max > 0 ? d / max : 0, max];
}

function hsvToRgb(hue, s, v) {
  const c = v * s;
  const hp = hue / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  let r = 0;
  let g = 0;
  let b = 0;
  if (hp < 1) [r, g, b] = [c, x, 0];
  else if (hp < 2) [r, g, b] = [x, c, 0];
  else if (hp < 3) [r, g, b] = [0, c, x];
  else if (hp < 4) [r, g, b] = [0, x, c];
  else if (hp < 5) [r, g, b] = [x, 0, c];
  else [r, g, b] = [c, 0, x];
  const m = v - c;
  return [r + m, g + m, b + m];
}

/**
 * mmsegmentation's PhotoMetricDistortion on 0..255 floats, in place: each step with p = 0.5,
 * brightness +-32, contrast x[0.5, 1.5] (before or after the HSV steps, at random), saturation
 * x[0.5, 1.5], hue +-18 in OpenCV's 0..180 units (+-36 degrees). Values are clipped to 0..255.
 */
export function photometric(img, r) {
  const n = img.length / 3;
  const clip = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);
  const brightness = r() < 0.5 ? uni(r, -32, 32) : 0;
  const contrastFirst = r() < 0.5;
  const contrast = r() < 0.5 ? uni(r, 0.5, 1.5) : 1;
  const saturation = r() < 0.5 ? uni(r, 0.5, 1.5) : 1;
  const hue = r() < 0.5 ? uni(r, -36, 36) : 0;
  for (let i = 0; i < img.length; i++) img[i] = clip(img[i] + brightness);
  if (contrastFirst && contrast !== 1) for (let i = 0; i < img.length; i++) img[i] = clip(img[i] * contrast);
  if (saturation !== 1 || hue !== 0) {
    for (let p = 0; p < n; p++) {
      const o = p * 3;
      let [hh, s, v] = rgbToHsv(img[o], img[o + 1], img[o + 2]);
      s = Math.min(1, s * saturation);
      hh = (hh + hue + 360) % 360;
      const [a, b, c] = hsvToRgb(hh, s, v);
      img[o] = clip(a);
      img[o + 1] = clip(b);
      img[o + 2] = clip(c);
    }
  }
  if (!contrastFirst && contrast !== 1) for (let i = 0; i < img.length; i++) img[i] = clip(img[i] * contrast);
  return { brightness, contrast, saturation, hue };
}
