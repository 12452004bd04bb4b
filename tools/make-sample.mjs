#!/usr/bin/env node
// Builds samples/coco-facades-mini: the first N images (by id) of the coco-facades train split
// with their annotations, in the same Roboflow COCO layout. Reproducible: run it again to get
// the same files. Usage: node tools/make-sample.mjs [../shared/data/coco-facades] [N]
import fs from 'node:fs';
import path from 'node:path';

const source = path.resolve(process.argv[2] ?? '../shared/data/coco-facades');
const count = Number(process.argv[3] ?? 4);
const split = 'train';
const target = path.resolve('samples/coco-facades-mini', split);
const coco = JSON.parse(fs.readFileSync(path.join(source, split, '_annotations.coco.json'), 'utf8'));
const images = [...coco.images].sort((a, b) => a.id - b.id).slice(0, count);
const ids = new Set(images.map((i) => i.id));
fs.mkdirSync(target, { recursive: true });
for (const image of images) fs.copyFileSync(path.join(source, split, image.file_name), path.join(target, image.file_name));
const out = { ...coco, images, annotations: coco.annotations.filter((a) => ids.has(a.image_id)) };
fs.writeFileSync(path.join(target, '_annotations.coco.json'), JSON.stringify(out));
console.log(`${images.length} images, ${out.annotations.length} annotations -> ${target}`);
