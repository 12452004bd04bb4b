#!/usr/bin/env node
// How much of each published copy's noise is left at the training resolution: the mean absolute
// difference to the clean copy after the same resize, inside objects and outside, in 0..255
// steps. Noise that lives at the finest scale is averaged away by the resize before any
// network sees it. Usage: node tools/bench-efficacy/noise-survival.mjs <work dir> [size] [n]
import fs from 'node:fs';
import path from 'node:path';
import { listShards, readShard, prepareSample } from './lib/data.mjs';
import { fail, parseToolArgs } from '../lib/args.mjs';

const { positionals } = parseToolArgs({
  name: 'noise-survival',
  usage: `
How much of each published copy's noise is left at the training resolution: mean |difference|
to the clean copy after the same resize, inside objects and outside, in 1/255 steps.

usage: node tools/bench-efficacy/noise-survival.mjs <work dir> [size] [images]

arguments:
  work dir     run.mjs's shard folders (train-none, train-uniform, ...), e.g. out/bench-efficacy/coco-facades
  size         training resolution [128]
  images       images per folder [16]
options:
  -h, --help   this text`,
  allowPositionals: true,
});
const [work, sizeArg, nArg] = positionals;
if (!work) fail('noise-survival', 'no work dir given (see --help)');
if (positionals.length > 3) fail('noise-survival', `unexpected argument '${positionals[3]}' (see --help)`);
const cleanDir = path.join(work, 'train-none');
if (!fs.existsSync(cleanDir)) fail('noise-survival', `${cleanDir} not found: run run.mjs with the none row first, or pass its --work folder`);
const size = Number(sizeArg ?? 128);
const n = Number(nArg ?? 16);
const first = async (dir) => (await readShard(listShards(dir)[0])).slice(0, n);
const clean = await first(cleanDir);
const classOf = (id) => (id > 0 ? 1 : undefined); // object vs background is all that matters here
const base = await Promise.all(clean.map((r) => prepareSample(r, { size, classOf })));
const full = await Promise.all(clean.map((r) => prepareSample(r, { size: Math.max(r.width, r.height), classOf })));
let measured = 0;
for (const dir of ['train-uniform', 'train-sign', 'train-classwise', 'train-unseg']) {
  let rows;
  try {
    rows = await first(path.join(work, dir));
  } catch {
    continue;
  }
  measured++;
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
if (measured === 0) fail('noise-survival', `${work} holds none of train-uniform, train-sign, train-classwise, train-unseg: nothing to compare with ${cleanDir}`);
