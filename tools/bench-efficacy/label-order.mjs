#!/usr/bin/env node
// How often the order in which overlapping objects are painted changes a pixel's class: the
// semantic map painted in annotation order (the last object listed wins, what the pipeline's
// class-wise noise was keyed by before 2026-11-27) against largest first (the smaller object
// wins, what this benchmark's trainers learn and the pipeline now uses). Share of object pixels
// that differ, and the commonest (largest-first class -> annotation-order class) swaps.
//   node tools/bench-efficacy/label-order.mjs [../shared/data/coco-facades/train] [images=60]
import fs from 'node:fs';
import path from 'node:path';
import { rleFromSegmentation } from '@unseg/core';
import { paintLabels } from './lib/labels.mjs';
import { fail, parseToolArgs } from '../lib/args.mjs';

const { positionals } = parseToolArgs({
  name: 'label-order',
  usage: `
How often the painting order of overlapping objects changes a pixel's class: annotation order
(the last listed wins) against largest first; share of object pixels that differ, top swaps.

usage: node tools/bench-efficacy/label-order.mjs [split dir] [images]

arguments:
  split dir    a COCO split folder holding _annotations.coco.json [../shared/data/coco-facades/train]
  images       how many images, in file order [60]
options:
  -h, --help   this text`,
  allowPositionals: true,
});
if (positionals.length > 2) fail('label-order', `unexpected argument '${positionals[2]}' (see --help)`);
const dir = positionals[0] ?? '../shared/data/coco-facades/train';
const limit = Number(positionals[1] ?? 60);
const annotations = path.join(dir, '_annotations.coco.json');
if (!fs.existsSync(annotations)) fail('label-order', `${annotations} not found: pass a COCO split folder as the first argument`);
const coco = JSON.parse(fs.readFileSync(annotations, 'utf8'));
const names = new Map(coco.categories.map((c) => [c.id, c.name]));
const byImage = new Map();
for (const a of coco.annotations) {
  if (a.iscrowd) continue;
  if (!byImage.has(a.image_id)) byImage.set(a.image_id, []);
  byImage.get(a.image_id).push(a);
}
const classOf = (id) => (id > 0 ? id : undefined);
let objectPixels = 0;
let differ = 0;
const swaps = new Map();
const images = coco.images.slice(0, limit);
for (const image of images) {
  const objects = (byImage.get(image.id) ?? []).map((a) => ({
    category_id: a.category_id,
    rle: rleFromSegmentation(a.segmentation, image.height, image.width),
  }));
  const largestFirst = paintLabels(objects, image.width, image.height, classOf);
  // Annotation order: each object painted in turn, the last listed on top. paintLabels sorts by
  // area, so it is given one object at a time and the results are overlaid.
  const inOrder = new Uint8Array(largestFirst.length);
  for (const o of objects) {
    const one = paintLabels([o], image.width, image.height, classOf);
    for (let p = 0; p < one.length; p++) if (one[p]) inOrder[p] = one[p];
  }
  for (let p = 0; p < largestFirst.length; p++) {
    if (!largestFirst[p]) continue;
    objectPixels++;
    if (inOrder[p] !== largestFirst[p]) {
      differ++;
      const key = `${names.get(largestFirst[p])} -> ${names.get(inOrder[p])}`;
      swaps.set(key, (swaps.get(key) ?? 0) + 1);
    }
  }
}
console.log(`${images.length} images of ${dir}: ${(differ / objectPixels).toFixed(3)} of object pixels change class with the painting order`);
for (const [key, n] of [...swaps].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log(`  ${key}: ${(n / objectPixels).toFixed(3)}`);
