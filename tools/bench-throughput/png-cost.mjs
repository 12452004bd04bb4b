#!/usr/bin/env node
// What noise and the PNG encoder cost the codecs: for each --encoders value, the CPU time to
// encode a clean image and the same image with uniform noise at 8/255 everywhere, the time to
// decode them again (sharp), and the bytes, on the first --images JPEGs of a folder. Encoders:
// `sharp:L` (sharp's PNG at zlib level L, unfiltered scanlines: the pipeline's encoder until
// 2026-11-26), `unseg` (core's encodeRgb: Up filter, Huffman-only deflate, the default) and
// `unseg:L` (core's, zlib level L with string matching). The CPU time includes every thread
// (sharp's libvips threads, zlib on libuv's pool). This is how image/png.ts was chosen.
//   node tools/bench-throughput/png-cost.mjs [--dir ../shared/data/coco-facades/train] [--images 6] [--encoders sharp:1,sharp:3,unseg]
import fs from 'node:fs';
import path from 'node:path';
import { applyBudgetedNoise, createUniformNoiseSource, decodeRgb, encodeRgb } from '@unseg/core';
import { sharpPng } from './sharp-png.mjs';
import { fail, parseToolArgs } from '../lib/args.mjs';

const { values: opt } = parseToolArgs({
  name: 'png-cost',
  usage: `
What noise and the PNG encoder cost the codecs: per encoder, CPU time to encode a clean and a
uniformly noised (8/255) image, to decode both again, and the bytes, on the first images of a folder.

usage: node tools/bench-throughput/png-cost.mjs [--dir DIR] [--images 6] [--encoders sharp:1,sharp:3,unseg] [--json FILE]

options:
  --dir DIR        folder of JPEG/PNG images [../shared/data/coco-facades/train]
  --images N       how many, in name order [6]
  --encoders E,... sharp:L (sharp's PNG at zlib level L), unseg (core's encodeRgb) or
                   unseg:L (core's at zlib level L) [sharp:1,sharp:3,unseg]
  --json FILE      also write the rows as JSON there [off]
  -h, --help       this text`,
  options: {
    dir: { type: 'string', default: '../shared/data/coco-facades/train' },
    images: { type: 'string', default: '6' },
    encoders: { type: 'string', default: 'sharp:1,sharp:3,unseg' },
    json: { type: 'string' },
  },
  numbers: {
    images: { integer: true, min: 1 },
  },
});
const encoders = opt.encoders.split(',').map((name) => {
  const m = /^(sharp|unseg)(?::(\d))?$/.exec(name);
  if (!m || (m[1] === 'sharp' && m[2] === undefined)) fail('png-cost', `--encoders ${name}: expected sharp:<0-9>, unseg or unseg:<0-9>`);
  const level = m[2] === undefined ? undefined : Number(m[2]);
  const encode =
    m[1] === 'sharp'
      ? (image) => sharpPng(image, level)
      : (image) => encodeRgb(image, level === undefined ? { format: 'png' } : { format: 'png', compressionLevel: level });
  return { name, encode };
});
if (!fs.existsSync(opt.dir)) fail('png-cost', `${opt.dir} not found: pass --dir`);
const files = fs.readdirSync(opt.dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().slice(0, opt.images);
if (files.length === 0) fail('png-cost', `no images in ${opt.dir}: pass --dir`);
const source = createUniformNoiseSource({ seed: 1 });
const cpuMs = async (f) => {
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  return [(c.user + c.system) / 1000, value];
};
const zero = () => ({ cleanEncode: 0, noisyEncode: 0, cleanDecode: 0, noisyDecode: 0, cleanBytes: 0, noisyBytes: 0 });
const sums = new Map(encoders.map((e) => [e.name, zero()]));
for (const f of files) {
  const { image } = await decodeRgb(path.join(opt.dir, f));
  const prompt = { width: image.width, height: image.height, data: new Uint8Array(image.width * image.height).fill(1) };
  const [direction] = await source.generate([{ id: f, image, prompt }]);
  const noisy = applyBudgetedNoise(image, direction, prompt, { epsFg: 8 / 255, epsBg: 2 / 255 });
  // Encoders interleaved per image, so a change of load during the run touches all of them alike.
  for (const { name, encode } of encoders) {
    const sum = sums.get(name);
    const [ce, clean] = await cpuMs(() => encode(image));
    const [ne, noised] = await cpuMs(() => encode(noisy));
    sum.cleanEncode += ce;
    sum.noisyEncode += ne;
    sum.cleanDecode += (await cpuMs(() => decodeRgb(clean)))[0];
    sum.noisyDecode += (await cpuMs(() => decodeRgb(noised)))[0];
    sum.cleanBytes += clean.length;
    sum.noisyBytes += noised.length;
  }
}
const rows = encoders.map(({ name }) => ({
  encoder: name,
  ...Object.fromEntries(Object.entries(sums.get(name)).map(([k, v]) => [k, v / files.length])),
}));
console.log(`${files.length} images of ${opt.dir}, CPU ms and bytes per image (uniform noise at 8/255 everywhere):`);
console.log('| encoder | encode clean | encode noisy | decode clean | decode noisy | bytes clean | bytes noisy | noise adds (ms) |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const adds = r.noisyEncode - r.cleanEncode + r.noisyDecode - r.cleanDecode;
  console.log(
    `| ${r.encoder} | ${r.cleanEncode.toFixed(1)} | ${r.noisyEncode.toFixed(1)} | ${r.cleanDecode.toFixed(1)} | ${r.noisyDecode.toFixed(1)} | ` +
      `${Math.round(r.cleanBytes)} | ${Math.round(r.noisyBytes)} | ${adds.toFixed(1)} |`,
  );
}
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ dir: opt.dir, images: files.length, date: new Date().toISOString(), rows }, null, 2));
