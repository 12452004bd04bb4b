#!/usr/bin/env node
// What noise and the PNG level cost the codecs: for each --levels value, the CPU time to encode
// a clean image and the same image with uniform noise at 8/255 everywhere, the time to decode
// them again, and the bytes, on the first --images JPEGs of a folder. The noise difference
// bounds the uniform row of run.mjs (even with free noise, masks, budget and shard writing it
// cannot beat codec / (codec + this)); the level columns are how the pipeline's default level
// was chosen (image/codec.ts).
//   node tools/bench-throughput/png-cost.mjs [--dir ../shared/data/coco-facades/train] [--images 6] [--levels 6]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyBudgetedNoise, createUniformNoiseSource, decodeRgb, DEFAULT_ENCODE, encodeRgb } from '@unseg/core';

const { values: opt } = parseArgs({
  options: {
    dir: { type: 'string', default: '../shared/data/coco-facades/train' },
    images: { type: 'string', default: '6' },
    levels: { type: 'string', default: String(DEFAULT_ENCODE.compressionLevel) },
    json: { type: 'string' },
  },
});
const levels = opt.levels.split(',').map(Number);
if (levels.some((l) => !Number.isInteger(l) || l < 0 || l > 9)) throw new Error(`--levels ${opt.levels}: PNG levels are 0-9`);
const files = fs.readdirSync(opt.dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, Number(opt.images));
if (files.length === 0) throw new Error(`no images in ${opt.dir}`);
const source = createUniformNoiseSource({ seed: 1 });
const cpuMs = async (f) => {
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  return [(c.user + c.system) / 1000, value];
};
const zero = () => ({ cleanEncode: 0, noisyEncode: 0, cleanDecode: 0, noisyDecode: 0, cleanBytes: 0, noisyBytes: 0 });
const sums = new Map(levels.map((l) => [l, zero()]));
for (const f of files) {
  const { image } = await decodeRgb(path.join(opt.dir, f));
  const prompt = { width: image.width, height: image.height, data: new Uint8Array(image.width * image.height).fill(1) };
  const [direction] = await source.generate([{ id: f, image, prompt }]);
  const noisy = applyBudgetedNoise(image, direction, prompt, { epsFg: 8 / 255, epsBg: 2 / 255 });
  // Levels interleaved per image, so a change of load during the run touches all of them alike.
  for (const level of levels) {
    const sum = sums.get(level);
    const encode = { format: 'png', compressionLevel: level };
    const [ce, clean] = await cpuMs(() => encodeRgb(image, encode));
    const [ne, noised] = await cpuMs(() => encodeRgb(noisy, encode));
    sum.cleanEncode += ce;
    sum.noisyEncode += ne;
    sum.cleanDecode += (await cpuMs(() => decodeRgb(clean)))[0];
    sum.noisyDecode += (await cpuMs(() => decodeRgb(noised)))[0];
    sum.cleanBytes += clean.length;
    sum.noisyBytes += noised.length;
  }
}
const rows = levels.map((level) => ({
  level,
  ...Object.fromEntries(Object.entries(sums.get(level)).map(([k, v]) => [k, v / files.length])),
}));
console.log(`${files.length} images of ${opt.dir}, CPU ms and bytes per image (uniform noise at 8/255 everywhere):`);
console.log('| PNG level | encode clean | encode noisy | decode clean | decode noisy | bytes clean | bytes noisy | noise adds (ms) |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const adds = r.noisyEncode - r.cleanEncode + r.noisyDecode - r.cleanDecode;
  console.log(
    `| ${r.level} | ${r.cleanEncode.toFixed(1)} | ${r.noisyEncode.toFixed(1)} | ${r.cleanDecode.toFixed(1)} | ${r.noisyDecode.toFixed(1)} | ` +
      `${Math.round(r.cleanBytes)} | ${Math.round(r.noisyBytes)} | ${adds.toFixed(1)} |`,
  );
}
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ dir: opt.dir, images: files.length, date: new Date().toISOString(), rows }, null, 2));
