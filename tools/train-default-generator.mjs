#!/usr/bin/env node
// Trains the default UnSeg generator shipped in packages/unseg-core/models/default.
// Needs the built packages: (cd packages/unseg-core && npm run build); (cd packages/unseg-train && npm run build)
//
//   node tools/train-default-generator.mjs --data sa1b:../shared/data/sa1b-facades \
//        --out out/train-default --seed 1 --epochs 400 --max-minutes 40 [--resume]
//   then copy generator.json, model.json, model.weights.bin, train-log.jsonl, curves.md into
//   packages/unseg-core/models/default (see its CARD.md). trainGenerator refuses an --out that
//   holds a generator or checkpoint without --resume, and --resume with other settings, so
//   start each new training in a fresh folder.
// The same recipe through the CLI: unseg-pipeline train ... --lr-g 1e-3 --lr-s 1e-3
//   --mean-penalty 10 --warmup 120 --schedule step:1:1 (these CPU defaults are this tool's).
//
// Options: --backend auto|tensorflow|wasm|cpu, --size 128, --batch 8, --lr-g, --lr-s,
//   --no-lm, --no-eg, --mean-penalty W, --schedule epoch:1:3|step:S:G, --warmup N, --paper, --max-images N,
//   --steps-per-epoch N, --diag-every N.
// Sanity check of protection (not the efficacy benchmark), after training or alone:
//   --sanity coco:../shared/data/coco-facades [--sanity-only] [--sanity-images 200] [--sanity-epochs 8]
//   trains a small U-Net from scratch on clean / sign-noised / G-noised copies of the coco
//   *train* split (first 3/4), 4x downscaled, and scores it on the clean last 1/4 of that split.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { loadTrainingSet, sanityEfficacy, summarizeLog, trainGenerator, DEFAULT_PHOTOMETRIC, PAPER_OPTIONS } from '@unseg/train';
import { loadGenerator, selectBackend } from '@unseg/core/generator';
import { fail, parseToolArgs } from './lib/args.mjs';

const USAGE = `
Trains the default UnSeg generator (packages/unseg-core/models/default) on SA-1B / COCO data,
optionally followed by a protection sanity check. Needs the built packages.

usage: node tools/train-default-generator.mjs --data sa1b:<dir> [--data coco:<dir>] --out <dir> [options]
       node tools/train-default-generator.mjs --out <trained dir> --sanity coco:<dir> --sanity-only

options:
  --data KIND:DIR          a training source (sa1b or coco; repeatable); required unless --sanity-only
  --out DIR                the generator folder to write (a fresh one, or with --resume); required
  --seed N                 training seed [1]
  --epochs N               training epochs [400]
  --max-minutes M          stop training after M minutes [no limit]
  --resume                 go on from the checkpoint in --out [off]
  --backend B              auto, tensorflow, wasm or cpu [auto]
  --size N                 training images are resized to N x N [128]
  --batch N                batch size [8]
  --lr-g X, --lr-s X       generator / surrogate learning rates [1e-3 each; 1e-4 with --paper]
  --mean-penalty W         weight of the noise-mean penalty [10; 0 with --paper]
  --warmup N               surrogate warm-up steps [120; 0 with --paper]
  --schedule S             epoch:S:G or step:S:G [step:1:1; epoch:1:3 with --paper]
  --paper                  the trainer's PAPER_OPTIONS instead of this tool's CPU defaults [off]
  --no-lm                  no label modification [off]
  --no-eg                  no epsilon generalization [off]
  --photometric            photometric jitter of x + noise before the surrogate [off]
  --noise-channels C       rgb or luma [rgb]
  --max-images N           cap on training images [all]
  --steps-per-epoch N      [one pass over the images]
  --diag-every N           diagnostic every N steps, 0: never [10]
  --sanity coco:DIR        after training, train small U-Nets on clean / sign / G-noised copies
                           of that train split and score them on its clean last quarter
  --sanity-only            skip training: only curves.md and the sanity check on --out [off]
  --sanity-images N        images read for the sanity check [200]
  --sanity-epochs N        U-Net epochs of the sanity check [8]
  --sanity-seeds N         sanity seeds 1..N [1]
  -h, --help               this text`;

const { values } = parseToolArgs({
  name: 'train-default-generator',
  usage: USAGE,
  options: {
    data: { type: 'string', multiple: true },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    epochs: { type: 'string', default: '400' },
    'max-minutes': { type: 'string' },
    resume: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'auto' },
    size: { type: 'string', default: '128' },
    batch: { type: 'string', default: '8' },
    'lr-g': { type: 'string' },
    'lr-s': { type: 'string' },
    'no-lm': { type: 'boolean', default: false },
    'no-eg': { type: 'boolean', default: false },
    schedule: { type: 'string' },
    warmup: { type: 'string' },
    paper: { type: 'boolean', default: false },
    'max-images': { type: 'string' },
    'steps-per-epoch': { type: 'string' },
    'diag-every': { type: 'string' },
    'mean-penalty': { type: 'string' },
    // Photometric jitter of x + noise before the surrogate, as downstream trainers apply it.
    photometric: { type: 'boolean', default: false },
    // rgb or luma (one grey noise channel; see GeneratorConfig.noise).
    'noise-channels': { type: 'string', default: 'rgb' },
    sanity: { type: 'string' },
    'sanity-only': { type: 'boolean', default: false },
    'sanity-images': { type: 'string', default: '200' },
    'sanity-epochs': { type: 'string', default: '8' },
    'sanity-seeds': { type: 'string', default: '1' },
  },
  // Only the kind of number here: the ranges are the trainer's (checkNumbers), the same for
  // `unseg-pipeline train` and this tool.
  numbers: {
    seed: { integer: true },
    epochs: { integer: true },
    'max-minutes': {},
    size: { integer: true },
    batch: { integer: true },
    'lr-g': {},
    'lr-s': {},
    warmup: { integer: true },
    'max-images': { integer: true },
    'steps-per-epoch': { integer: true },
    'diag-every': { integer: true },
    'mean-penalty': {},
    'sanity-images': { integer: true, min: 2 },
    'sanity-epochs': { integer: true, min: 1 },
    'sanity-seeds': { integer: true, min: 1 },
  },
});
if (!values.out) fail('train-default-generator', 'no --out given (see --help)');
if (!values.data?.length && !values['sanity-only']) fail('train-default-generator', 'no --data given (see --help)');

// Decodes COCO's compressed RLE string (LEB128-like, 5 bits a character, deltas from the
// count two back). Used only when @unseg/plugin-sa1b is not available.
function rleFromString(s, height, width) {
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return { height, width, counts: Uint32Array.from(counts) };
}

// A minimal SA-1B reader with the DatasetReader shape, for when the plugin is not built.
async function fallbackSa1bReader(root) {
  const dirs = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const jsons = [];
  for (const d of dirs) for (const f of (await readdir(path.join(root, d))).filter((f) => f.endsWith('.json')).sort()) jsons.push(path.join(d, f));
  return {
    root,
    async splits() { return ['train']; },
    async categories() { return []; },
    async *samples() {
      for (const rel of jsons) {
        const j = JSON.parse(await readFile(path.join(root, rel), 'utf8'));
        yield {
          id: String(j.image.image_id ?? rel),
          split: 'train',
          image: { kind: 'file', path: path.join(path.dirname(rel), j.image.file_name) },
          width: j.image.width,
          height: j.image.height,
          objects: j.annotations.map((a) => ({
            id: String(a.id), categoryId: 1, category: 'object', isThing: true, isCrowd: false, bbox: a.bbox, annotation: a,
            mask: async () => rleFromString(a.segmentation.counts, a.segmentation.size[0], a.segmentation.size[1]),
          })),
        };
      }
    },
  };
}

async function openSource(spec) {
  const i = spec.indexOf(':');
  const [kind, dir] = [spec.slice(0, i), spec.slice(i + 1)];
  try {
    const mod = await import(`@unseg/plugin-${kind}`);
    const plugin = Object.values(mod).map((v) => (typeof v === 'function' && v.length === 0 ? (() => { try { return v(); } catch { return undefined; } })() : v))
      .find((v) => v && typeof v === 'object' && v.name === kind && typeof v.open === 'function');
    if (plugin) {
      const reader = await plugin.open(dir);
      const splits = await reader.splits();
      const split = splits.includes('train') ? 'train' : splits[0];
      if (kind === 'coco' && split !== 'train') throw new Error('coco: only the train split may feed the generator');
      // Probe one mask, so that a broken build of the plugin or of core's codec shows up now.
      for await (const sample of reader.samples(split)) {
        if (sample instanceof Error) throw sample;
        if (sample.objects[0]) await sample.objects[0].mask();
        break;
      }
      console.log(`data: ${spec} via @unseg/plugin-${kind} (split ${split})`);
      return { reader, split };
    }
  } catch (e) {
    if (kind !== 'sa1b') throw e;
    console.log(`@unseg/plugin-sa1b failed (${e.message.split('\n')[0]}); using the built-in reader`);
  }
  if (kind !== 'sa1b') throw new Error(`no plugin for ${kind}`);
  console.log(`data: ${spec} via the built-in fallback SA-1B reader`);
  return { reader: await fallbackSa1bReader(dir), split: 'train' };
}

const trainer = { seed: values.seed, batchSize: values.batch };
if (!values.paper) {
  // The shipped default's CPU settings (see models/default/CARD.md); --paper keeps PAPER_OPTIONS.
  Object.assign(trainer, { lrGenerator: 1e-3, lrSurrogate: 1e-3, meanPenalty: 10, surrogateWarmupSteps: 120, schedule: { unit: 'step', surrogate: 1, generator: 1 } });
}
if (values['lr-g'] !== undefined) trainer.lrGenerator = values['lr-g'];
if (values['lr-s'] !== undefined) trainer.lrSurrogate = values['lr-s'];
if (values['no-lm']) trainer.labelModification = false;
if (values['no-eg']) trainer.epsilonGeneralization = false;
if (values['mean-penalty'] !== undefined) trainer.meanPenalty = values['mean-penalty'];
if (values.photometric) trainer.photometric = DEFAULT_PHOTOMETRIC;
if (!['rgb', 'luma'].includes(values['noise-channels'])) fail('train-default-generator', `--noise-channels ${values['noise-channels']}: expected rgb or luma`);
trainer.generatorNoise = values['noise-channels'];
if (values.warmup !== undefined) trainer.surrogateWarmupSteps = values.warmup;
if (values['steps-per-epoch'] !== undefined) trainer.stepsPerEpoch = values['steps-per-epoch'];
if (values['diag-every'] !== undefined) trainer.diagnosticEvery = values['diag-every'];
if (values.schedule) {
  const [unit, s, g] = values.schedule.split(':');
  trainer.schedule = { unit, surrogate: Number(s), generator: Number(g) };
}
async function sanity() {
  const spec = values.sanity;
  const dir = spec.slice(spec.indexOf(':') + 1);
  console.log(`sanity check on ${dir} (train split only), backend ${await selectBackend(values.backend)}`);
  const { cocoPlugin } = await import('@unseg/plugin-coco');
  const reader = await cocoPlugin().open(dir);
  const set = await loadTrainingSet([{ reader, split: 'train' }], { size: 256, minArea: 0, maxArea: 1, withLabels: true, maxImages: values['sanity-images'] });
  const generator = await loadGenerator(values.out);
  const trainCount = Math.floor((set.images.length * 3) / 4);
  const rows = [];
  for (const seed of Array.from({ length: values['sanity-seeds'] }, (_, i) => i + 1)) {
    for (const noise of ['clean', 'sign', 'unseg']) {
      const r = await sanityEfficacy({ set, noise, generator, trainCount, epochs: values['sanity-epochs'], seed });
      console.log(JSON.stringify({ seed, ...r }));
      rows.push({ seed, ...r });
    }
  }
  const result = { images: set.images.length, trainCount, testCount: set.images.length - trainCount, publishedSize: 256, trainerSize: 64, epochs: values['sanity-epochs'], rows };
  await writeFile(path.join(values.out, 'sanity.json'), JSON.stringify(result, null, 1) + '\n');
  generator.dispose();
}
async function writeCurves() {
  const log = (await readFile(path.join(values.out, 'train-log.jsonl'), 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  await writeFile(path.join(values.out, 'curves.md'), summarizeLog(log, 14) + '\n');
}
if (values['sanity-only']) {
  await writeCurves().catch(() => undefined);
  if (values.sanity) await sanity();
  process.exit(0);
}
const sources = [];
for (const d of values.data) sources.push(await openSource(d));
const started = Date.now();
const result = await trainGenerator({
  sources,
  out: values.out,
  epochs: values.epochs,
  trainer,
  size: values.size,
  resume: values.resume,
  backend: values.backend,
  maxMinutes: values['max-minutes'],
  maxImages: values['max-images'],
  provenance: { command: `node tools/train-default-generator.mjs ${process.argv.slice(2).join(' ')}`, defaults: values.paper ? 'paper' : 'cpu-default', base: PAPER_OPTIONS === undefined ? null : 'PAPER_OPTIONS' },
});
console.log(JSON.stringify({ ...result, wallSeconds: Math.round((Date.now() - started) / 1000) }));
await writeCurves();
if (values.sanity) await sanity();
