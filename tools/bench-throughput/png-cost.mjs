#!/usr/bin/env node
// What noise alone costs the codecs: the CPU time to encode (PNG, the pipeline's default level)
// and decode again a clean image and the same image with uniform noise at 8/255 everywhere,
// on the first --images JPEGs of a folder. The difference bounds the uniform row of run.mjs:
// even with free noise, masks, budget and shard writing it cannot beat codec / (codec + this).
//   node tools/bench-throughput/png-cost.mjs [--dir ../shared/data/coco-facades/train] [--images 6]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { applyBudgetedNoise, createUniformNoiseSource, decodeRgb, encodeRgb } from '@unseg/core';

const { values: opt } = parseArgs({
  options: { dir: { type: 'string', default: '../shared/data/coco-facades/train' }, images: { type: 'string', default: '6' } },
});
const files = fs.readdirSync(opt.dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, Number(opt.images));
if (files.length === 0) throw new Error(`no images in ${opt.dir}`);
const source = createUniformNoiseSource({ seed: 1 });
const cpuMs = async (f) => {
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  return [(c.user + c.system) / 1000, value];
};
const sum = { cleanEncode: 0, noisyEncode: 0, cleanDecode: 0, noisyDecode: 0, cleanBytes: 0, noisyBytes: 0 };
for (const f of files) {
  const { image } = await decodeRgb(path.join(opt.dir, f));
  const prompt = { width: image.width, height: image.height, data: new Uint8Array(image.width * image.height).fill(1) };
  const [direction] = await source.generate([{ id: f, image, prompt }]);
  const noisy = applyBudgetedNoise(image, direction, prompt, { epsFg: 8 / 255, epsBg: 2 / 255 });
  const [ce, clean] = await cpuMs(() => encodeRgb(image));
  const [ne, noised] = await cpuMs(() => encodeRgb(noisy));
  sum.cleanEncode += ce;
  sum.noisyEncode += ne;
  sum.cleanDecode += (await cpuMs(() => decodeRgb(clean)))[0];
  sum.noisyDecode += (await cpuMs(() => decodeRgb(noised)))[0];
  sum.cleanBytes += clean.length;
  sum.noisyBytes += noised.length;
}
const per = Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, v / files.length]));
console.log(`${files.length} images of ${opt.dir}, CPU ms per image (PNG level 6):`);
console.log(`| | encode | decode | bytes |\n|---|---:|---:|---:|`);
console.log(`| clean | ${per.cleanEncode.toFixed(1)} | ${per.cleanDecode.toFixed(1)} | ${Math.round(per.cleanBytes)} |`);
console.log(`| uniform 8/255 | ${per.noisyEncode.toFixed(1)} | ${per.noisyDecode.toFixed(1)} | ${Math.round(per.noisyBytes)} |`);
console.log(`noise adds ${(per.noisyEncode - per.cleanEncode + per.noisyDecode - per.cleanDecode).toFixed(1)} ms of codec CPU per image`);
