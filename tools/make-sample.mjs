#!/usr/bin/env node
// Builds samples/coco-facades-mini: the first N images (by id) of the coco-facades train split
// with their annotations, in the same Roboflow COCO layout. Reproducible: run it again to get
// the same files. Usage: node tools/make-sample.mjs [../shared/data/coco-facades] [N]
import fs from 'node:fs';
import path from 'node:path';
import { fail, parseToolArgs } from './lib/args.mjs';

const { positionals } = parseToolArgs({
  name: 'make-sample',
  usage: `
Builds samples/coco-facades-mini (under the current folder): the first N images (by id) of the
coco-facades train split with their annotations, in the same Roboflow COCO layout.

usage: node tools/make-sample.mjs [coco-facades dir] [N]

arguments:
  coco-facades dir   the dataset, holding train/_annotations.coco.json [../shared/data/coco-facades]
  N                  how many images [4]
options:
  -h, --help         this text`,
  allowPositionals: true,
});
if (positionals.length > 2) fail('make-sample', `unexpected argument '${positionals[2]}' (see --help)`);
const source = path.resolve(positionals[0] ?? '../shared/data/coco-facades');
const count = Number(positionals[1] ?? 4);
const split = 'train';
const target = path.resolve('samples/coco-facades-mini', split);
const annotations = path.join(source, split, '_annotations.coco.json');
if (!fs.existsSync(annotations)) fail('make-sample', `${annotations} not found: pass the coco-facades folder as the first argument`);
const coco = JSON.parse(fs.readFileSync(annotations, 'utf8'));
const images = [...coco.images].sort((a, b) => a.id - b.id).slice(0, count);
const ids = new Set(images.map((i) => i.id));
fs.mkdirSync(target, { recursive: true });
for (const image of images) fs.copyFileSync(path.join(source, split, image.file_name), path.join(target, image.file_name));
const out = { ...coco, images, annotations: coco.annotations.filter((a) => ids.has(a.image_id)) };
fs.writeFileSync(path.join(target, '_annotations.coco.json'), JSON.stringify(out));
console.log(`${images.length} images, ${out.annotations.length} annotations -> ${target}`);
