#!/usr/bin/env node
// The per-image passes of the pipeline's hot path, one at a time, on one real 1024x1024 image:
// each of core's functions next to the plain-JavaScript loop it replaced (kept here, and only
// here, as the baseline), and with a fresh output array next to a reused one. Milliseconds per
// call, median of --reps after a warm-up; a table, and JSON in results/hot-path-<date>.json.
//   node tools/bench-throughput/hot-path.mjs [--image ../shared/data/coco-facades/train/<first>] [--reps 30]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyBudgetedNoise, budgetSteps, createUniformNoiseSource, decodeRgb, measureNoise, rleDecode, rleEncode } from '@unseg/core';

import { fail, parseToolArgs } from '../lib/args.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseToolArgs({
  name: 'hot-path',
  usage: `
Times the per-image passes of the pipeline's hot path on one 1024x1024 image: core's functions
next to the plain-JavaScript loops they replaced, fresh against reused output arrays. Writes
a table, and JSON in <out>/hot-path-<date>.json.

usage: node tools/bench-throughput/hot-path.mjs [--image FILE] [--reps 30] [--out DIR]

options:
  --image FILE   the image [the first JPEG of ../shared/data/coco-facades/train]
  --reps N       calls per pass, median taken after a warm-up [30]
  --out DIR      where the JSON goes [tools/bench-throughput/results]
  -h, --help     this text`,
  options: {
    image: { type: 'string' },
    reps: { type: 'string', default: '30' },
    out: { type: 'string', default: path.join(here, 'results') },
  },
  numbers: {
    reps: { integer: true, min: 1 },
  },
});
const file = opt.image ?? (() => {
  const dir = path.resolve(here, '../../../shared/data/coco-facades/train');
  if (!fs.existsSync(dir)) fail('hot-path', `${dir} not found: pass --image`);
  const first = fs.readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort()[0];
  if (!first) fail('hot-path', `no JPEG in ${dir}: pass --image`);
  return path.join(dir, first);
})();
if (!fs.existsSync(file)) fail('hot-path', `${file} not found`);
const reps = opt.reps;

// ---- the loops the WebAssembly kernels replaced (core before 2026-11-25 18:20 UTC) ----------

function scalarApply(image, noise, prompt, budget) {
  const { width, height, data } = image;
  const n = width * height;
  const fg = budgetSteps(budget.epsFg);
  const bg = budgetSteps(budget.epsBg);
  const scaleFg = budget.epsFg * 255;
  const scaleBg = budget.epsBg * 255;
  const out = new Uint8Array(n * 3);
  const mask = prompt.data;
  for (let p = 0, i = 0; p < n; p++) {
    const inside = mask[p] !== 0;
    const limit = inside ? fg : bg;
    const scale = inside ? scaleFg : scaleBg;
    for (let c = 0; c < 3; c++, i++) {
      let step = Math.floor(noise[i] * scale + 0.5);
      if (step > limit) step = limit;
      else if (step < -limit) step = -limit;
      else if (step !== step) step = 0;
      const y = data[i] + step;
      out[i] = y < 0 ? 0 : y > 255 ? 255 : y;
    }
  }
  return { width, height, data: out };
}

function scalarMeasure(original, published, prompt) {
  const n = original.width * original.height;
  let maxFg = 0, maxBg = 0, sumAbs = 0, sumSq = 0, promptPixels = 0;
  const a = original.data, b = published.data, mask = prompt.data;
  for (let p = 0, i = 0; p < n; p++, i += 3) {
    const d0 = b[i] - a[i], d1 = b[i + 1] - a[i + 1], d2 = b[i + 2] - a[i + 2];
    const s0 = d0 >> 31, s1 = d1 >> 31, s2 = d2 >> 31;
    const a0 = (d0 ^ s0) - s0, a1 = (d1 ^ s1) - s1, a2 = (d2 ^ s2) - s2;
    sumAbs += a0 + a1 + a2;
    sumSq += d0 * d0 + d1 * d1 + d2 * d2;
    const m = Math.max(a0, a1, a2);
    const inside = -(mask[p] !== 0 ? 1 : 0);
    promptPixels -= inside;
    maxFg = Math.max(maxFg, m & inside);
    maxBg = Math.max(maxBg, m & ~inside);
  }
  return { maxFg, maxBg, sumAbs, sumSq, promptPixels };
}

function scalarUniform(seed, out, scratch) {
  let a = seed >>> 0;
  for (let i = 0; i < out.length; i += 4) {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t ^= t >>> 14;
    scratch[i] = t & 255;
    scratch[i + 1] = (t >>> 8) & 255;
    scratch[i + 2] = (t >>> 16) & 255;
    scratch[i + 3] = (t >>> 24) & 255;
  }
  for (let i = 0; i < out.length; i++) out[i] = (scratch[i] + 0.5) * (1 / 128) - 1;
  return out;
}

function transposeDecode(rle, colScratch) {
  const { height: h, width: w, counts } = rle;
  const data = new Uint8Array(h * w);
  colScratch.fill(0);
  let idx = 0;
  for (let j = 0; j < counts.length; j++) {
    if ((j & 1) === 1) colScratch.fill(1, idx, idx + counts[j]);
    idx += counts[j];
  }
  const TILE = 64;
  for (let y0 = 0; y0 < h; y0 += TILE) {
    const y1 = Math.min(y0 + TILE, h);
    for (let x0 = 0; x0 < w; x0 += TILE) {
      const x1 = Math.min(x0 + TILE, w);
      for (let y = y0; y < y1; y++) {
        let o = y * w + x0;
        for (let i = x0 * h + y, x = x0; x < x1; x++, i += h) data[o++] = colScratch[i];
      }
    }
  }
  return { height: h, width: w, data };
}

// ---------------------------------------------------------------------------------------------

function median(values) {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function time(f) {
  await f();
  const ms = [];
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const { image } = await decodeRgb(file);
const { width, height } = image;
const n = width * height;
// A prompt shaped like a facade's objects: a large block with holes, about 60 % of the image.
const promptData = new Uint8Array(n);
for (let y = 0; y < height; y++) {
  for (let x = 0; x < width; x++) {
    const hole = (x >> 5) % 7 === 0 && (y >> 6) % 3 === 0;
    promptData[y * width + x] = x > width / 10 && x < (width * 9) / 10 && y > height / 20 && !hole ? 1 : 0;
  }
}
const prompt = { width, height, data: promptData };
const promptRle = rleEncode(prompt);
const budget = { epsFg: 8 / 255, epsBg: 2 / 255 };
const source = createUniformNoiseSource({ seed: 1 });
const [noise] = await source.generate([{ id: 'x', image, prompt }]);
const published = applyBudgetedNoise(image, noise, prompt, budget);

const scratchBytes = new Uint8Array(n * 3);
const scratchFloats = new Float32Array(n * 3);
const reusedPixels = new Uint8Array(n * 3);
const reusedMask = new Uint8Array(n);
const rows = [
  ['budget application', 'scalar loop, new array', () => scalarApply(image, noise, prompt, budget)],
  ['budget application', 'kernel, new array', () => applyBudgetedNoise(image, noise, prompt, budget)],
  ['budget application', 'kernel, reused array', () => applyBudgetedNoise(image, noise, prompt, budget, reusedPixels)],
  ['budget check', 'scalar loop', () => scalarMeasure(image, published, prompt)],
  ['budget check', 'kernel', () => measureNoise(image, published, prompt)],
  ['uniform directions', 'scalar loop, reused arrays', () => scalarUniform(1, scratchFloats, scratchBytes)],
  ['uniform directions', 'kernel, pooled array', async () => source.release([...(await source.generate([{ id: 'x', image, prompt }]))])],
  ['prompt mask decode', 'fill + tiled transpose, new', () => transposeDecode(promptRle, scratchBytes.subarray(0, n))],
  ['prompt mask decode', 'rleDecode, new array', () => rleDecode(promptRle)],
  ['prompt mask decode', 'rleDecode, reused array', () => rleDecode(promptRle, reusedMask)],
];
const results = [];
for (const [pass, variant, f] of rows) results.push({ pass, variant, ms: await time(f) });

console.log(`hot path on ${path.basename(file)} (${width}x${height}), ms per call, median of ${reps}`);
console.log(`${'pass'.padEnd(20)} ${'variant'.padEnd(28)} ${'ms'.padStart(7)}`);
for (const r of results) console.log(`${r.pass.padEnd(20)} ${r.variant.padEnd(28)} ${r.ms.toFixed(2).padStart(7)}`);
const result = {
  date: new Date().toISOString(),
  command: `node tools/bench-throughput/hot-path.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  machine: { cpu: os.cpus()[0]?.model, cpus: os.cpus().length, node: process.version },
  loadavg: os.loadavg(),
  image: file,
  size: [width, height],
  reps,
  rows: results,
};
fs.mkdirSync(opt.out, { recursive: true });
const outFile = path.join(opt.out, `hot-path-${result.date.replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(outFile, JSON.stringify(result, null, 2));
console.log(`results: ${path.relative(process.cwd(), outFile)}`);
