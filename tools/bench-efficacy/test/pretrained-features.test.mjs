// node --test tools/bench-efficacy/test: pretrained-features.mjs writes each image's feature map and
// id in the layout torch/pretrained_keys.py reads, and refuses what is not a graph model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { coreRequire } from '../lib/tf.mjs';

const script = path.join(import.meta.dirname, '..', 'pretrained-features.mjs');
const b64 = (s) => Buffer.from(s).toString('base64');

/** A weightless graph model: y = 4x4 average pool of the input x (NHWC). */
function poolModel() {
  const pool = { list: { i: ['1', '4', '4', '1'] } };
  return {
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] } } } },
        { name: 'y', op: 'AvgPool', input: ['x'], attr: { ksize: pool, strides: pool, padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, T: { type: 'DT_FLOAT' } } },
      ],
      library: {},
      versions: {},
    },
    weightsManifest: [{ paths: [], weights: [] }],
  };
}

async function cocoSplit(dir, images) {
  const sharp = (await import(coreRequire.resolve('sharp'))).default;
  for (const { file, rgb } of images) {
    await sharp({ create: { width: 16, height: 12, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(path.join(dir, file));
  }
  const coco = { images: images.map(({ id, file }) => ({ id, file_name: file, width: 16, height: 12 })), annotations: [], categories: [] };
  fs.writeFileSync(path.join(dir, '_annotations.coco.json'), JSON.stringify(coco));
}

const run = (args) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

test('writes each image its feature map, then its COCO id, in the split order, skipping an unreadable one, and says the shape', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrained-features-'));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(poolModel()));
  const split = path.join(dir, 'train');
  fs.mkdirSync(split);
  await cocoSplit(split, [{ id: 7, file: 'a.png', rgb: [10, 20, 30] }, { id: 5, file: 'broken.png', rgb: [0, 0, 0] }, { id: 3, file: 'b.png', rgb: [200, 100, 0] }]);
  fs.writeFileSync(path.join(split, 'broken.png'), 'not a png');
  const out = path.join(dir, 'f.bin');
  const r = run(['--model', path.join(dir, 'model.json'), '--data', split, '--out', out, '--input', 'x', '--node', 'y', '--size', '8', '--scale', '0.5']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /broken\.png: .*\(skipped\)/); // an unreadable image is named and skipped, the rest go on
  const info = JSON.parse(fs.readFileSync(`${out}.json`, 'utf8'));
  assert.deepEqual([info.images, info.height, info.width, info.channels], [2, 2, 2, 3]);
  assert.deepEqual(info.failed, ['broken.png']);
  const bytes = fs.readFileSync(out);
  const record = 2 * 2 * 3 * 4 + 4;
  assert.equal(bytes.length, 2 * record);
  assert.equal(fs.existsSync(`${out}.partial`), false);
  const features = (i) => [...new Float32Array(bytes.buffer.slice(bytes.byteOffset + i * record, bytes.byteOffset + i * record + record - 4))];
  const id = (i) => bytes.readUInt32LE(i * record + record - 4);
  assert.deepEqual([id(0), id(1)], [7, 3]);
  assert.deepEqual(features(0), [5, 10, 15, 5, 10, 15, 5, 10, 15, 5, 10, 15]); // a flat image pooled, times --scale
  assert.deepEqual(features(1).slice(0, 3), [100, 50, 0]);
});

test('refuses a model that is not a graph model, and a split without annotations, naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrained-features-'));
  const layers = path.join(dir, 'layers.json');
  fs.writeFileSync(layers, JSON.stringify({ ...poolModel(), format: 'layers-model' }));
  const bad = run(['--model', layers, '--data', dir, '--out', path.join(dir, 'f.bin')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /layers\.json: format is "layers-model", not "graph-model"/);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(poolModel()));
  const noSplit = run(['--model', path.join(dir, 'model.json'), '--data', path.join(dir, 'nowhere'), '--out', path.join(dir, 'f.bin')]);
  assert.equal(noSplit.status, 2);
  assert.match(noSplit.stderr, /nowhere[/\\]_annotations\.coco\.json: not found/);
  assert.equal(fs.existsSync(path.join(dir, 'f.bin')), false);
});
