#!/usr/bin/env node
// How much of each published copy's noise is left at the training resolution: the mean absolute
// difference to the clean copy after the same resize, inside objects and outside, in 0..255
// steps. Noise that lives at the finest scale is averaged away by the resize before any
// network sees it. Usage: node tools/bench-efficacy/noise-survival.mjs <work dir> [size] [n]
import path from 'node:path';
import { listShards, readShard, prepareSample } from './lib/data.mjs';

const [work, sizeArg, nArg] = process.argv.slice(2);
if (!work) throw new Error('usage: noise-survival.mjs <work dir, e.g. out/bench-efficacy/coco-facades> [size=128] [images=16]');
const size = Number(sizeArg ?? 128);
const n = Number(nArg ?? 16);
const first = async (dir) => (await readShard(listShards(dir)[0])).slice(0, n);
const clean = await first(path.join(work, 'train-none'));
const classOf = (id) => (id > 0 ? 1 : undefined); // object vs background is all that matters here
const base = await Promise.all(clean.map((r) => prepareSample(r, { size, classOf })));
const full = await Promise.all(clean.map((r) => prepareSample(r, { size: Math.max(r.width, r.height), classOf })));
for (const dir of ['train-uniform', 'train-sign', 'train-classwise', 'train-unseg']) {
  let rows;
  try {
    rows = await first(path.join(work, dir));
  } catch {
    continue;
  }
  const stat = async (s, ref) => {
    const sums = { fg: 0, bg: 0, nfg: 0, nbg: 0 };
    for (let i = 0; i < rows.length; i++) {
      const p = await prepareSample(rows[i], { size: s, classOf });
      const c = ref[i];
      for (let q = 0; q < c.labels.length; q++) {
        const k = c.labels[q] ? 'fg' : 'bg';
        for (let ch = 0; ch < 3; ch++) sums[k] += Math.abs(p.image[q * 3 + ch] - c.image[q * 3 + ch]) / 3;
        sums[`n${k}`]++;
      }
    }
    return `fg ${(sums.fg / sums.nfg).toFixed(2)}, bg ${(sums.bg / sums.nbg).toFixed(2)}`;
  };
  console.log(`${dir}: mean |noise| at publish res: ${await stat(rows[0].width, full)}; at ${size}px: ${await stat(size, base)} (steps of 1/255, ${rows.length} images)`);
}
