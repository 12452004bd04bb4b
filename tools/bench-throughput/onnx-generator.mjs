#!/usr/bin/env node
// Weighs an onnxruntime-node inference path for the generator against tfjs (issue 6): exports
// the generator to ONNX (onnx-export.mjs), checks that onnxruntime gives the same noise as tfjs
// (parity), then times G's forward pass at its working size on both, interleaved so that a
// loaded machine slows both alike, and times the whole generateNoise call on 1024x1024 inputs
// (resampling included) to say what share of the generator stage the forward pass is.
//
// onnxruntime-node is not a dependency of unseg. Install it beside the repository (its install
// script fetches CUDA files and fails offline; ONNXRUNTIME_NODE_INSTALL=skip avoids that):
//   mkdir -p /tmp/ort && (cd /tmp/ort && npm init -y && ONNXRUNTIME_NODE_INSTALL=skip npm i onnxruntime-node)
//   node tools/bench-throughput/onnx-generator.mjs --ort-from /tmp/ort
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_GENERATOR_DIR, generateNoise, loadGenerator, selectBackend } from '@unseg/core/generator';
import { exportGeneratorToOnnx } from './onnx-export.mjs';
import { fail, parseToolArgs } from '../lib/args.mjs';

const { values: opt } = parseToolArgs({
  name: 'onnx-generator',
  usage: `
Weighs an onnxruntime-node inference path for the generator against tfjs: exports it to ONNX,
checks parity, times G's forward pass on both, and the whole generateNoise call at full size.
Needs onnxruntime-node (not a dependency; see the comment at the top of this file).

usage: node tools/bench-throughput/onnx-generator.mjs [--ort-from DIR] [options]

options:
  --generator DIR   the generator folder [packages/unseg-core/models/default]
  --ort-from DIR    folder whose node_modules holds onnxruntime-node [resolved from here]
  --batches N,...   batch sizes timed [1,8]
  --runs N          timed runs per batch size, median taken [15]
  --threads N,...   onnxruntime intra-op thread counts [1,2]
  --full-size N     side of the generateNoise inputs [1024]
  --out FILE        the JSON result [tools/bench-throughput/results/onnx-<date>.json]
  -h, --help        this text`,
  options: {
    generator: { type: 'string', default: DEFAULT_GENERATOR_DIR },
    'ort-from': { type: 'string' },
    batches: { type: 'string', default: '1,8' },
    runs: { type: 'string', default: '15' },
    threads: { type: 'string', default: '1,2' },
    'full-size': { type: 'string', default: '1024' },
    out: { type: 'string' },
  },
  numbers: {
    runs: { integer: true, min: 1 },
    'full-size': { integer: true, min: 16 },
  },
});

const here = path.dirname(new URL(import.meta.url).pathname);
const requireOrt = createRequire(opt['ort-from'] ? path.join(path.resolve(opt['ort-from']), 'package.json') : import.meta.url);
let ort;
try {
  ort = requireOrt('onnxruntime-node');
} catch (e) {
  console.error(`onnxruntime-node is not installed (${e.message.split('\n')[0]}); see the comment at the top of ${path.basename(new URL(import.meta.url).pathname)}`);
  process.exit(2);
}

if (!fs.existsSync(opt.generator)) fail('onnx-generator', `${opt.generator} not found: pass --generator`);
const backend = await selectBackend('wasm');
const generator = await loadGenerator(opt.generator);
const { config } = generator;
const weights = new Map([...generator.params].map(([name, v]) => [name, { shape: v.shape, values: v.dataSync() }]));
const onnxBytes = exportGeneratorToOnnx(config, weights);
const size = config.workingSize;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function inputs(n, seed) {
  // A smooth random image and a box prompt: values like a real batch, reproducible.
  let s = seed >>> 0;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(n * size * size * 3);
  const p = new Float32Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const [fx, fy, ph] = [rnd() * 0.2, rnd() * 0.2, rnd() * 6];
    for (let y = 0; y < size; y++)
      for (let xx = 0; xx < size; xx++) {
        const i = (b * size + y) * size + xx;
        for (let c = 0; c < 3; c++) x[i * 3 + c] = 0.5 + 0.4 * Math.sin(fx * xx + fy * y + ph + c) * rnd();
        p[i] = xx > size / 4 && xx < (3 * size) / 4 && y > size / 3 ? 1 : 0;
      }
  }
  return { x, p };
}

/** NHWC -> NCHW. */
function toNCHW(a, n, c) {
  const out = new Float32Array(a.length);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < size * size; i++) for (let k = 0; k < c; k++) out[(b * c + k) * size * size + i] = a[(b * size * size + i) * c + k];
  return out;
}

function tfForward(x, p, n) {
  const out = tf.tidy(() => generator.forward(tf.tensor4d(x, [n, size, size, 3]), tf.tensor4d(p, [n, size, size, 1])));
  const v = out.dataSync();
  out.dispose();
  return v;
}

const sessions = new Map();
for (const t of opt.threads.split(',').map(Number)) {
  sessions.set(t, await ort.InferenceSession.create(onnxBytes, { intraOpNumThreads: t, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' }));
}
async function ortForward(session, x, p, n) {
  const r = await session.run({ x: new ort.Tensor('float32', toNCHW(x, n, 3), [n, 3, size, size]), prompt: new ort.Tensor('float32', toNCHW(p, n, 1), [n, 1, size, size]) });
  return r.noise.data;
}

// Parity on a batch of 4.
const { x: px, p: pp } = inputs(4, 7);
const ref = tfForward(px, pp, 4);
const refNCHW = toNCHW(ref, 4, 3);
const parity = {};
for (const [t, s] of sessions) {
  const got = await ortForward(s, px, pp, 4);
  let maxAbs = 0;
  for (let i = 0; i < got.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - refNCHW[i]));
  parity[t] = maxAbs;
}
const worst = Math.max(...Object.values(parity));
console.log(`parity (batch 4 at ${size}x${size}): max |onnxruntime - tfjs| = ${worst.toExponential(2)}`);
if (!(worst < 1e-4)) {
  console.error('onnxruntime and tfjs disagree: the export is wrong, timings would be meaningless');
  process.exit(1);
}

const runs = opt.runs;
const rows = [];
for (const n of opt.batches.split(',').map(Number)) {
  const { x, p } = inputs(n, n);
  const times = { tfjs: [] };
  for (const t of sessions.keys()) times[`ort${t}`] = [];
  tfForward(x, p, n);
  for (const s of sessions.values()) await ortForward(s, x, p, n);
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    tfForward(x, p, n);
    times.tfjs.push(performance.now() - t0);
    for (const [t, s] of sessions) {
      t0 = performance.now();
      await ortForward(s, x, p, n);
      times[`ort${t}`].push(performance.now() - t0);
    }
  }
  for (const [engine, list] of Object.entries(times)) {
    rows.push({ engine: engine === 'tfjs' ? `tfjs ${backend}` : `onnxruntime ${engine.slice(3)} thread(s)`, batch: n, msPerBatch: median(list), msPerImage: median(list) / n });
  }
}

// The whole generateNoise call at full size (area downsample, G, bilinear upsample), tfjs.
const full = opt['full-size'];
const reqs = Array.from({ length: 8 }, (_, i) => {
  const data = new Uint8Array(full * full * 3).map((_, j) => (j * (i + 3) * 7) & 255);
  const prompt = new Uint8Array(full * full).map((_, j) => ((j % full) > full / 3 ? 1 : 0));
  return { id: String(i), image: { width: full, height: full, data }, prompt: { width: full, height: full, data: prompt } };
});
generateNoise(generator, reqs);
const stage = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  generateNoise(generator, reqs);
  stage.push((performance.now() - t0) / reqs.length);
}
const stageMs = median(stage);

const load = os.loadavg()[0];
console.log(`\nG forward at ${size}x${size}, median of ${runs} runs (interleaved), ${os.cpus().length} cpus, load ${load.toFixed(1)}:\n`);
console.log('| engine | batch | ms per batch | ms per image | x tfjs |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) {
  const base = rows.find((q) => q.batch === r.batch && q.engine.startsWith('tfjs'));
  console.log(`| ${r.engine} | ${r.batch} | ${r.msPerBatch.toFixed(1)} | ${r.msPerImage.toFixed(1)} | ${(base.msPerImage / r.msPerImage).toFixed(2)} |`);
}
console.log(`\ngenerateNoise on ${full}x${full} images (batch 8, tfjs ${backend}, resampling included): ${stageMs.toFixed(1)} ms per image`);
const tf8 = rows.find((r) => r.batch === 8 && r.engine.startsWith('tfjs'));
if (tf8) console.log(`G's forward is ${((100 * tf8.msPerImage) / stageMs).toFixed(0)} % of it at batch 8`);

const result = { when: new Date().toISOString(), generator: path.resolve(opt.generator), workingSize: size, backend, ortVersion: JSON.parse(fs.readFileSync(path.join(path.dirname(requireOrt.resolve('onnxruntime-node')), '..', 'package.json'), 'utf8')).version, onnxBytes: onnxBytes.length, parityMaxAbs: parity, rows, generateNoiseMsPerImage: stageMs, fullSize: full, loadavg: os.loadavg(), cpus: os.cpus().length };
const outFile = opt.out ?? path.join(here, 'results', `onnx-${result.when.replace(/[:.]/g, '-')}.json`);
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(result, null, 1));
console.log(`\nwrote ${path.relative(process.cwd(), outFile)}`);
