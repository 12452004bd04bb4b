#!/usr/bin/env node
// How far can any noise of this budget go against this trainer? An upper-bound diagnostic, not
// a pipeline row: sample-wise error-minimising noise (the "unlearnable examples" min-min of
// Huang et al., ICLR 2021) crafted against the benchmark's own DeepLab with the class labels,
// at the training resolution, then scored like every row: a fresh net trained from scratch on
// the noised copy with the standard recipe, evaluated on the clean eval split.
//
// It knows more than any generator is given (the labels, the trainer's architecture and its
// resolution), and its noise is applied to the 128-px images directly, not published at 1024 px
// and resized (noise made at the training resolution survives that resize almost whole: see
// "How much noise survives the resize" in README.md). So a protection it cannot reach is out
// of reach of the method on this benchmark.
//
// Reads the clean copies that run.mjs published (run it first for the none row), e.g.
//   node tools/bench-efficacy/em-bound.mjs --work out/bench-efficacy/coco-facades --width 16 --epochs 12
import fs from 'node:fs';
import path from 'node:path';
import { tf, initBackend, repoRoot } from './lib/tf.mjs';
import { classMap, loadSplit } from './lib/data.mjs';
import { ARCHS } from './lib/models.mjs';
import { rng } from './lib/augment.mjs';
import { IGNORE } from './lib/labels.mjs';
import { evaluate, makeBatch, MEAN, normalise, STD, trainModel, trainStep } from './lib/train.mjs';
import { applyJitter, DEFAULT_PHOTOMETRIC, drawJitter, Rng } from '@unseg/train';
import { fail, parseToolArgs } from '../lib/args.mjs';

const USAGE = `
Upper-bound diagnostic: sample-wise error-minimising noise crafted against the benchmark's own
DeepLab (with the labels), then scored like a row. Reads the clean copies run.mjs published.

usage: node tools/bench-efficacy/em-bound.mjs [options]
   e.g. node tools/bench-efficacy/em-bound.mjs --work out/bench-efficacy/coco-facades --width 16 --epochs 12

options:
  --work DIR           run.mjs's shard folders [out/bench-efficacy/coco-facades]
  --train-split S      [train]
  --eval-split S       [valid]
  --size N             base resolution [128]
  --crop N             [96]
  --width N            channels of the first level [16]
  --batch N            [8]
  --lr X               [2e-3]
  --epochs N           [12]
  --seed N             [1]
  --eps-fg N           budget inside objects, in 1/255 steps [8]
  --eps-bg N           budget outside, in 1/255 steps [2]
  --rounds N           min-min rounds [6]
  --model-steps N      net steps per round [25]
  --noise-steps N      signed-gradient steps per image per round [1]
  --alpha X            step in units of the budget [0.4]
  --cell N             noise cells this many pixels wide (1: per pixel) [1]
  --eot                noise steps through the trainer's augmentation [off]
  --max-minutes M      stop crafting when the next round would end later (0: no limit) [0]
  --limit N            train images used [all]
  --no-photometric     train without PhotoMetricDistortion [off]
  --name NAME          results file results/NAME.json [em-bound]
  --save-noise DIR     write the first crafted directions as PNGs [off]
  --clean-from FILE    results file with the clean none/deeplab runs [facades-strong-merged.json]
  --train-clean        train the clean reference here even if --clean-from has it [off]
  -h, --help           this text`;

const { values: opt } = parseToolArgs({
  name: 'em-bound',
  usage: USAGE,
  options: {
    work: { type: 'string', default: path.join(repoRoot, 'out/bench-efficacy/coco-facades') },
    'train-split': { type: 'string', default: 'train' },
    'eval-split': { type: 'string', default: 'valid' },
    size: { type: 'string', default: '128' },
    crop: { type: 'string', default: '96' },
    width: { type: 'string', default: '16' },
    batch: { type: 'string', default: '8' },
    lr: { type: 'string', default: '2e-3' },
    epochs: { type: 'string', default: '12' },
    seed: { type: 'string', default: '1' },
    'eps-fg': { type: 'string', default: '8' }, // in 1/255 steps
    'eps-bg': { type: 'string', default: '2' },
    rounds: { type: 'string', default: '6' }, // min-min rounds
    'model-steps': { type: 'string', default: '25' }, // net steps per round (augmented, like the trainer)
    'noise-steps': { type: 'string', default: '1' }, // signed-gradient steps per image per round
    alpha: { type: 'string', default: '0.4' }, // step in units of the budget
    // Noise made of cells this many pixels wide (1: per pixel). Per-pixel noise is what the
    // signed gradient gives, and a trainer's random downscaling averages it away; cells of a
    // few pixels survive it, as the generator's upsampled noise does.
    cell: { type: 'string', default: '1' },
    // Noise steps through the trainer's augmentation (expectation over transformation): each step
    // sees the batch rescaled (0.5-2x), cropped to --crop, flipped and photometrically jittered, as
    // the downstream trainer will; without it the noise is fitted to whole, untransformed images.
    eot: { type: 'boolean' },
    // Stop crafting (then score as usual) when the next round would end after this many minutes.
    'max-minutes': { type: 'string', default: '0' },
    limit: { type: 'string' },
    'no-photometric': { type: 'boolean' },
    name: { type: 'string', default: 'em-bound' },
    // Write the first few crafted directions as PNGs (127 + 127 x direction) to look at.
    'save-noise': { type: 'string' },
    // The clean reference: the none/deeplab runs with the same recipe in this results file;
    // trained here when there are none (or with --train-clean).
    'clean-from': { type: 'string', default: 'facades-strong-merged.json' },
    'train-clean': { type: 'boolean' },
  },
  numbers: {
    size: { integer: true, min: 16 },
    crop: { integer: true, min: 8 },
    width: { integer: true, min: 1 },
    batch: { integer: true, min: 1 },
    lr: { min: 0 },
    epochs: { integer: true, min: 1 },
    seed: { integer: true, min: 0 },
    'eps-fg': { min: 0, max: 255 },
    'eps-bg': { min: 0, max: 255 },
    rounds: { integer: true, min: 1 },
    'model-steps': { integer: true, min: 0 },
    'noise-steps': { integer: true, min: 1 },
    alpha: { min: 0 },
    cell: { integer: true, min: 1 },
    'max-minutes': { min: 0 },
    limit: { integer: true, min: 1 },
  },
});
const cfg = {
  work: path.resolve(opt.work), size: opt['size'], crop: opt['crop'], width: opt['width'], batch: opt['batch'], lr: opt['lr'],
  epochs: opt['epochs'], seed: opt['seed'], epsFg: opt['eps-fg'], epsBg: opt['eps-bg'], rounds: opt['rounds'],
  modelSteps: opt['model-steps'], noiseSteps: opt['noise-steps'], alpha: opt['alpha'], cell: opt['cell'], photometric: !opt['no-photometric'],
  eot: Boolean(opt.eot), maxMinutes: opt['max-minutes'],
};
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);
const trainDir = path.join(cfg.work, `${opt['train-split']}-none`);
const evalDir = path.join(cfg.work, `${opt['eval-split']}-none`);
for (const d of [trainDir, evalDir]) if (!fs.existsSync(d)) fail('em-bound', `${d} is missing: run run.mjs with the none row first (or pass --work)`);
const backend = await initBackend('wasm');
log(`tfjs ${tf.version.tfjs}, backend ${backend}; config ${JSON.stringify(cfg)}`);

const { classNames, classes, classOf, classKey } = await classMap([trainDir, evalDir]);
let train = await loadSplit(trainDir, { size: cfg.size, classOf, classKey, log });
if (opt.limit) train = train.slice(0, opt.limit);
const evalSet = await loadSplit(evalDir, { size: cfg.size, classOf, classKey, log });
const { width: W, height: H } = train[0];
if (!train.every((s) => s.width === W && s.height === H)) throw new Error('em-bound needs same-size train images');
log(`${train.length} train images at ${W}x${H}, ${evalSet.length} eval images, ${classes} labels`);

// The noise: a direction in [-1, 1] per channel value; the budget (1/255 steps) by region, the
// region being the labelled objects (what the pipeline's prompt covers) against the rest.
const directions = train.map((s) => new Float32Array(s.image.length));
// The free variables: one value per cell and channel; `directions` holds them expanded.
const C = cfg.cell;
const CW = Math.ceil(W / C);
const CH = Math.ceil(H / C);
const coarse = train.map(() => new Float32Array(CW * CH * 3));
const cellOf = new Int32Array(W * H * 3);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) cellOf[(y * W + x) * 3 + c] = (Math.floor(y / C) * CW + Math.floor(x / C)) * 3 + c;
const budgets = train.map((s) => {
  const b = new Float32Array(s.image.length);
  for (let p = 0; p < s.labels.length; p++) {
    const e = s.labels[p] !== 0 && s.labels[p] !== IGNORE ? cfg.epsFg : cfg.epsBg;
    b[p * 3] = b[p * 3 + 1] = b[p * 3 + 2] = e;
  }
  return b;
});
/** The noised copy, quantised to 8 bits as a published image is. */
function noised(k) {
  const { image } = train[k];
  const d = directions[k];
  const b = budgets[k];
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.max(0, Math.min(255, image[i] + Math.round(d[i] * b[i])));
  return { ...train[k], image: out };
}

/**
 * The loss of the batch `idxs` with directions `d` (flat, m x H x W x 3; `image` and `budget`
 * the batch's pixels and budgets, 0-255, in the same layout) after one draw of the
 * trainer's augmentation, and its gradient with respect to `d`: rescale of the whole batch by
 * one factor in [0.5, 2] (at least the crop), a random crop and flip per image, mmsegmentation-
 * style photometric jitter per image, normalisation. Labels follow the geometry (nearest, the
 * same corner-aligned mapping as tf.image.resizeBilinear's default).
 */
function eotValueAndGrad(idxs, d, image, budget) {
  const m = idxs.length;
  const S = Math.max(cfg.crop, Math.round(H * (0.5 + 1.5 * r())));
  const Sw = Math.max(cfg.crop, Math.round(W * (S / H)));
  const crops = idxs.map(() => ({ oy: Math.floor(r() * (S - cfg.crop + 1)), ox: Math.floor(r() * (Sw - cfg.crop + 1)), flip: r() < 0.5 }));
  const draws = idxs.map(() => (cfg.photometric ? drawJitter(DEFAULT_PHOTOMETRIC, jitterRng) : { brightness: 0, contrast: 1, saturation: 1, hueDegrees: 0 }));
  const C = cfg.crop;
  const y = new Int32Array(m * C * C);
  const w = new Float32Array(m * C * C);
  idxs.forEach((k, b) => {
    const { oy, ox, flip } = crops[b];
    const labels = train[k].labels;
    for (let i = 0; i < C; i++) {
      const sy = Math.min(H - 1, Math.floor(((oy + i) * H) / S));
      for (let j = 0; j < C; j++) {
        const jj = flip ? C - 1 - j : j;
        const sx = Math.min(W - 1, Math.floor(((ox + jj) * W) / Sw));
        const l = labels[sy * W + sx];
        y[(b * C + i) * C + j] = l === IGNORE ? 0 : l;
        w[(b * C + i) * C + j] = l === IGNORE ? 0 : 1;
      }
    }
  });
  return tf.tidy(() => {
    const img = tf.tensor4d(image, [m, H, W, 3]).div(255);
    const bt = tf.tensor4d(budget, [m, H, W, 3]).div(255);
    const yt = tf.oneHot(tf.tensor3d(y, [m, C, C], 'int32'), classes);
    const wt = tf.tensor3d(w, [m, C, C]);
    const mean = tf.tensor1d(MEAN);
    const std = tf.tensor1d(STD);
    const f = (dt) => {
      const x = tf.image.resizeBilinear(img.add(dt.mul(bt)).clipByValue(0, 1), [S, Sw]);
      const parts = crops.map(({ oy, ox, flip }, b) => {
        const c = tf.slice(x, [b, oy, ox, 0], [1, C, C, 3]);
        return flip ? tf.reverse(c, 2) : c;
      });
      const jittered = applyJitter(tf.concat(parts, 0), draws);
      return tf.losses.softmaxCrossEntropy(yt, model.forward(jittered.mul(255).sub(mean).div(std), true), wt);
    };
    const { value, grad } = tf.valueAndGrad(f)(tf.tensor4d(d, [m, H, W, 3]));
    return [tf.keep(value), tf.keep(grad)];
  });
}
const jitterRng = new Rng(cfg.seed * 131 + 17);

const model = ARCHS.deeplab({ classes, width: cfg.width, seed: cfg.seed * 1000 + 99 });
model.params.pending = [];
const opt2 = tf.train.adam(cfg.lr);
const r = rng(cfg.seed * 31 + 5);
const n = train.length;
const B = cfg.batch;
const crafting = [];
const t0 = Date.now();
for (let round = 1; round <= cfg.rounds; round++) {
  // min over the net: steps on augmented noised batches, as the trainer will take them
  const current = train.map((_, k) => noised(k));
  let netLoss = 0;
  for (let s = 0; s < cfg.modelSteps; s++) {
    const idxs = Array.from({ length: B }, () => Math.floor(r() * n));
    netLoss += await trainStep(model, opt2, makeBatch(current, idxs, cfg.crop, r, cfg.photometric), { batch: B, size: cfg.crop, classes });
  }
  // min over the noise: signed-gradient steps on every image's directions, whole images
  let noiseLoss = 0;
  let batches = 0;
  for (let start = 0; start < n; start += B) {
    const idxs = Array.from({ length: Math.min(B, n - start) }, (_, i) => start + i);
    const m = idxs.length;
    // What stays fixed over the batch's noise steps: the raw pixels and budgets for --eot, which
    // transforms them anew each step; else the normalised images, budgets and labels.
    const x = new Float32Array(m * W * H * 3);
    const scale = new Float32Array(m * W * H * 3);
    const y = new Int32Array(m * W * H);
    const w = new Float32Array(m * W * H);
    idxs.forEach((k, b) => {
      if (cfg.eot) {
        x.set(train[k].image, b * W * H * 3);
        scale.set(budgets[k], b * W * H * 3);
        return;
      }
      normalise(train[k].image, x, b * W * H * 3);
      for (let i = 0; i < W * H * 3; i++) scale[b * W * H * 3 + i] = budgets[k][i] / STD[i % 3];
      for (let p = 0; p < W * H; p++) {
        const l = train[k].labels[p];
        y[b * W * H + p] = l === IGNORE ? 0 : l;
        w[b * W * H + p] = l === IGNORE ? 0 : 1;
      }
    });
    for (let step = 0; step < cfg.noiseSteps; step++) {
      const d = new Float32Array(m * W * H * 3);
      idxs.forEach((k, b) => d.set(directions[k], b * W * H * 3));
      const [lossValue, grad] = cfg.eot ? eotValueAndGrad(idxs, d, x, scale) : tf.tidy(() => {
        const xt = tf.tensor4d(x, [m, H, W, 3]);
        const st = tf.tensor4d(scale, [m, H, W, 3]);
        const yt = tf.oneHot(tf.tensor3d(y, [m, H, W], 'int32'), classes);
        const wt = tf.tensor3d(w, [m, H, W]);
        const f = (dt) => tf.losses.softmaxCrossEntropy(yt, model.forward(tf.add(xt, tf.mul(dt, st)), true), wt);
        const { value, grad } = tf.valueAndGrad(f)(tf.tensor4d(d, [m, H, W, 3]));
        return [tf.keep(value), tf.keep(grad)];
      });
      for (const [, mean, variance] of model.params.pending) {
        mean.dispose();
        variance.dispose();
      }
      model.params.pending = [];
      const g = await grad.data();
      noiseLoss += (await lossValue.data())[0];
      batches++;
      grad.dispose();
      lossValue.dispose();
      idxs.forEach((k, b) => {
        // The gradient of a cell is the sum of its pixels' gradients.
        const gc = new Float32Array(coarse[k].length);
        for (let i = 0; i < W * H * 3; i++) gc[cellOf[i]] += g[b * W * H * 3 + i];
        const ck = coarse[k];
        for (let j = 0; j < ck.length; j++) ck[j] = Math.max(-1, Math.min(1, ck[j] - cfg.alpha * Math.sign(gc[j])));
        const dk = directions[k];
        for (let i = 0; i < dk.length; i++) dk[i] = ck[cellOf[i]];
      });
    }
  }
  let meanAbs = 0;
  let saturated = 0;
  let count = 0;
  for (const d of directions) for (const v of d) { meanAbs += Math.abs(v); saturated += Math.abs(v) === 1 ? 1 : 0; count++; }
  const entry = { round, netLoss: netLoss / cfg.modelSteps, noiseLoss: noiseLoss / batches, meanAbsDirection: meanAbs / count, saturated: saturated / count, seconds: (Date.now() - t0) / 1000 };
  crafting.push(entry);
  const last = crafting.length > 1 ? entry.seconds - crafting.at(-2).seconds : entry.seconds;
  const capped = cfg.maxMinutes > 0 && entry.seconds + last > cfg.maxMinutes * 60;
  log(`round ${round}/${cfg.rounds}: net loss ${entry.netLoss.toFixed(3)} (augmented), loss on noised images ${entry.noiseLoss.toFixed(3)}, mean |direction| ${entry.meanAbsDirection.toFixed(2)}, at the budget ${(entry.saturated * 100).toFixed(0)} %, ${entry.seconds.toFixed(0)} s`);
  if (capped) {
    log(`stopping after round ${round}: the next would end past --max-minutes ${cfg.maxMinutes}`);
    break;
  }
}
model.params.dispose();
opt2.dispose();
if (opt['save-noise']) {
  const { default: sharp } = await import('sharp');
  fs.mkdirSync(opt['save-noise'], { recursive: true });
  for (let k = 0; k < Math.min(4, n); k++) {
    const px = Uint8Array.from(directions[k], (v) => Math.round(127 + 127 * v));
    await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(opt['save-noise'], `direction-${k}.png`));
    await sharp(noised(k).image, { raw: { width: W, height: H, channels: 3 } }).png().toFile(path.join(opt['save-noise'], `noised-${k}.png`));
  }
  log(`directions of the first images written to ${opt['save-noise']}`);
}

// Score it like a row: a fresh net, the standard recipe, the clean eval split.
const protectedSet = train.map((_, k) => noised(k));
let sumAbs = 0;
let sumSq = 0;
let values = 0;
protectedSet.forEach((s, k) => s.image.forEach((v, i) => { const dv = v - train[k].image[i]; sumAbs += Math.abs(dv); sumSq += dv * dv; values++; }));
const psnr = 10 * Math.log10((255 * 255) / (sumSq / values));
log(`noised copy: mean |change| ${(sumAbs / values).toFixed(2)}/255, PSNR ${psnr.toFixed(1)} dB at ${W}x${H}`);
const trainRes = `${cfg.crop}x${cfg.crop} crops from ${cfg.size}px${cfg.photometric ? '' : ', no photometric'}`;
const resultsDir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
async function score(samples) {
  const t = Date.now();
  const { model: net } = await trainModel({ arch: 'deeplab', samples, classes, seed: cfg.seed, epochs: cfg.epochs, batch: B, crop: cfg.crop, lr: cfg.lr, width: cfg.width, photometric: cfg.photometric, log });
  const ev = await evaluate(net, evalSet, classes);
  net.params.dispose();
  return { miou: ev.miou, pixelAcc: ev.pixelAcc, perClassIoU: Object.fromEntries(classNames.map((c, i) => [c, ev.iou[i]])), wallSeconds: (Date.now() - t) / 1000 };
}
const scored = {};
const cleanFile = path.join(resultsDir, opt['clean-from']);
// A stored clean run counts only if its file's recipe is this one (and not on a subset of the images).
const cleanJson = !opt['train-clean'] && fs.existsSync(cleanFile) ? JSON.parse(fs.readFileSync(cleanFile, 'utf8')) : undefined;
const sameRecipe = (c) => c && c.epochs === cfg.epochs && c.size === cfg.size && c.crop === cfg.crop && c.batch === cfg.batch &&
  c.width === cfg.width && c.lr === cfg.lr && !c.limit && !opt.limit && c.photometric === cfg.photometric;
if (cleanJson && !sameRecipe(cleanJson.config)) log(`clean reference: ${opt['clean-from']} has another recipe; training clean here`);
const cleanRuns = cleanJson && sameRecipe(cleanJson.config)
  ? cleanJson.runs.filter((x) => x.row === 'none' && x.arch === 'deeplab' && x.trainRes === trainRes)
  : [];
if (cleanRuns.length > 0) {
  const mean = (k) => cleanRuns.reduce((a, x) => a + x[k], 0) / cleanRuns.length;
  scored.clean = { miou: mean('miou'), pixelAcc: mean('pixelAcc'), from: `${opt['clean-from']}, seeds ${cleanRuns.map((x) => x.seed).join(',')}` };
  log(`clean reference: mIoU ${scored.clean.miou.toFixed(3)} (${scored.clean.from})`);
} else {
  scored.clean = await score(train);
  log(`=> clean: mIoU ${scored.clean.miou.toFixed(3)}, pixel acc ${scored.clean.pixelAcc.toFixed(3)}`);
}
scored['em-bound'] = await score(protectedSet);
log(`=> em-bound: mIoU ${scored['em-bound'].miou.toFixed(3)}, pixel acc ${scored['em-bound'].pixelAcc.toFixed(3)}`);
const ratio = scored['em-bound'].miou / scored.clean.miou;
console.log(`\n| train copy | mIoU | pixel acc | ratio to clean |\n|---|---|---|---:|`);
for (const [label, s] of Object.entries(scored)) console.log(`| ${label} | ${s.miou.toFixed(3)} | ${s.pixelAcc.toFixed(3)} | ${(s.miou / scored.clean.miou).toFixed(2)} |`);
const result = {
  date: new Date().toISOString(),
  command: `node tools/bench-efficacy/em-bound.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  config: cfg, trainImages: n, evalImages: evalSet.length, classNames, crafting,
  noisedCopy: { meanAbs: sumAbs / values, psnr }, scored, ratio, trainRes,
};
const file = path.join(resultsDir, `${opt.name}.json`);
fs.writeFileSync(file, JSON.stringify(result, null, 1) + '\n');
log(`results: ${path.relative(repoRoot, file)}`);
