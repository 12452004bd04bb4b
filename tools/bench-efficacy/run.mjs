#!/usr/bin/env node
// Efficacy benchmark: for each row, publish the train split with the real CLI, read the shards
// back, train segmentation nets from scratch on them, evaluate on the clean held-out split.
// Usage and design: tools/bench-efficacy/README.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tf, initBackend, repoRoot } from './lib/tf.mjs';
import { classMap, loadSplit } from './lib/data.mjs';
import { trainModel, evaluate } from './lib/train.mjs';
import { summarise, markdownTable } from './lib/report.mjs';
import { parseRow, planRuns } from './lib/plan.mjs';
import { fail, parseToolArgs } from '../lib/args.mjs';

const USAGE = `
Efficacy benchmark: publishes the train split once per row with the real CLI, trains
segmentation nets from scratch on the published copy and scores them on the clean eval split.
See tools/bench-efficacy/README.md.

usage: node tools/bench-efficacy/run.mjs [options]            # the full table on ../shared/data/coco-facades
       node tools/bench-efficacy/run.mjs --quick [options]    # smoke run on the ADE20K sample

options (defaults in brackets; --quick's where it differs):
  --dataset DIR        [../shared/data/coco-facades; --quick: ../shared/data/ade20k-sample/ADEChallengeData2016]
  --format F           the CLI's plugin [coco; --quick: ade20k]
  --train-split S      [train; --quick: validation]
  --eval-split S       [valid; --quick: validation]
  --rows R,...         noise[@generatorDir][+defense] rows (classwise:codes@FILE: a class-codes file)
                       [none,uniform,classwise,sign,unseg,unseg+jpeg75,unseg+gray,unseg+blur1,none+jpeg75,none+gray,none+blur1;
                        --quick: none,sign,sign+jpeg75]
  --archs A,...        [unet,deeplab]
  --seeds N,...        training seeds for the --seeded-rows [1,2; --quick: 1]
  --seeded-rows R,...  rows run with every seed (the others with the first) [none,unseg]
  --epochs N           [6; --quick: 2]
  --size N             base resolution, long side [128; --quick: 64]
  --crop N             [96; --quick: 48]
  --batch N            [8; --quick: 2]
  --width N            channels of the first level [12]
  --lr X               [2e-3]
  --limit N            images per split, for trials [all]
  --eps-fg B           [8/255]
  --eps-bg B           [2/255]
  --work DIR           shard folders [out/bench-efficacy/<name>]
  --name NAME          results file results/NAME.json [the dataset folder's name; --quick: quick]
  --backend B          tfjs backend [wasm]
  --quick              the smoke-run defaults above [off]
  --no-photometric     train without PhotoMetricDistortion (scale, crop and flip stay) [off]
  --fresh              ignore earlier results in results/NAME.json [off]
  -h, --help           this text`;

const { values: opt } = parseToolArgs({
  name: 'bench-efficacy',
  usage: USAGE,
  options: {
    dataset: { type: 'string' },
    format: { type: 'string' }, // the CLI's plugin: coco, ade20k, ...
    'train-split': { type: 'string' },
    'eval-split': { type: 'string' },
    rows: { type: 'string' },
    archs: { type: 'string' },
    seeds: { type: 'string' }, // training seeds for the rows in --seeded-rows
    'seeded-rows': { type: 'string' },
    epochs: { type: 'string' },
    size: { type: 'string' }, // base resolution: long side after the user's resize
    crop: { type: 'string' },
    batch: { type: 'string' },
    width: { type: 'string' },
    lr: { type: 'string' },
    limit: { type: 'string' },
    'eps-fg': { type: 'string' },
    'eps-bg': { type: 'string' },
    work: { type: 'string' },
    name: { type: 'string' },
    backend: { type: 'string' },
    quick: { type: 'boolean' },
    // Ablation: train without PhotoMetricDistortion (scale, crop and flip stay).
    'no-photometric': { type: 'boolean' },
    fresh: { type: 'boolean' },
  },
  numbers: {
    epochs: { integer: true, min: 1 },
    size: { integer: true, min: 16 },
    crop: { integer: true, min: 8 },
    batch: { integer: true, min: 1 },
    width: { integer: true, min: 1 },
    lr: { min: 0 },
    limit: { integer: true, min: 1 },
  },
});

const quick = !!opt.quick;
const cfg = {
  dataset: path.resolve(opt.dataset ?? (quick ? path.join(repoRoot, '../shared/data/ade20k-sample/ADEChallengeData2016') : path.join(repoRoot, '../shared/data/coco-facades'))),
  format: opt.format ?? (quick ? 'ade20k' : 'coco'),
  trainSplit: opt['train-split'] ?? (quick ? 'validation' : 'train'),
  evalSplit: opt['eval-split'] ?? (quick ? 'validation' : 'valid'),
  rows: (opt.rows ?? (quick ? 'none,sign,sign+jpeg75' : 'none,uniform,classwise,sign,unseg,unseg+jpeg75,unseg+gray,unseg+blur1,none+jpeg75,none+gray,none+blur1')).split(','),
  archs: (opt.archs ?? 'unet,deeplab').split(','),
  seeds: (opt.seeds ?? (quick ? '1' : '1,2')).split(',').map((s) => (/^\d+$/.test(s.trim()) ? Number(s) : fail('bench-efficacy', `--seeds must be integers separated by commas, got "${opt.seeds}" (see --help)`))),
  seededRows: (opt['seeded-rows'] ?? 'none,unseg').split(','),
  epochs: opt.epochs ?? (quick ? 2 : 6),
  size: opt.size ?? (quick ? 64 : 128),
  crop: opt.crop ?? (quick ? 48 : 96),
  batch: opt.batch ?? (quick ? 2 : 8),
  width: opt.width ?? 12,
  lr: opt.lr ?? 2e-3,
  limit: opt.limit ?? null,
  epsFg: opt['eps-fg'] ?? '8/255',
  epsBg: opt['eps-bg'] ?? '2/255',
  photometric: !opt['no-photometric'],
};
if (!fs.existsSync(cfg.dataset)) {
  // The defaults live in ../shared/data beside the repository, which a clone elsewhere lacks.
  console.error(`bench-efficacy: dataset ${cfg.dataset} not found: pass --dataset <folder> (and --format) for a dataset elsewhere`);
  process.exit(1);
}
if (quick && cfg.trainSplit === cfg.evalSplit) {
  console.log('quick: the sample has one split, so train and eval use the same images (a smoke run, not a result)');
}
const name = opt.name ?? (quick ? 'quick' : path.basename(cfg.dataset));
const work = path.resolve(opt.work ?? path.join(repoRoot, 'out/bench-efficacy', name));
const resultsFile = path.join(path.dirname(new URL(import.meta.url).pathname), 'results', `${name}.json`);
const cli = path.join(repoRoot, 'packages/unseg-cli/dist/bin.js');
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);

function publish(split, noise, outDir) {
  // Always asked: the CLI resumes, so a finished folder costs a scan, and an interrupted one
  // (which already has a manifest.json) is completed instead of being read half-written.
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build the CLI first (npm run build)`);
  const args = [cli, 'run', cfg.format, '--in', cfg.dataset, '--out', outDir, '--split', split,
    '--noise', noise.source, '--eps-fg', cfg.epsFg, '--eps-bg', cfg.epsBg, '--progress', 'none'];
  if (noise.generator) args.push('--generator', noise.generator);
  if (noise.cellSize) args.push('--cell-size', String(noise.cellSize));
  if (noise.pattern) args.push('--pattern', noise.pattern);
  if (noise.codes) args.push('--codes', noise.codes);
  if (cfg.limit) args.push('--limit', String(cfg.limit));
  log(`publishing ${split}: ${args.slice(2).join(' ')}`);
  const t = Date.now();
  // Benchmark processes run side by side and share the clean copies: when another one is
  // publishing (or scanning) the same folder, the CLI refuses with "in use by"; wait for it.
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
    process.stderr.write(r.stderr ?? '');
    if (r.status === 0) break;
    if (!/ is in use by /.test(r.stderr ?? '') || attempt === 60) throw new Error(`unseg-pipeline run failed (exit ${r.status ?? r.signal}) for ${outDir}`);
    log(`${outDir} is being written by another process; retrying in 10 s`);
    sleepSync(10);
  }
  return (Date.now() - t) / 1000;
}

function sleepSync(seconds) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

const backend = await initBackend(opt.backend ?? 'wasm');
log(`tfjs ${tf.version.tfjs}, backend ${backend}, ${os.cpus().length} cpus; config`, JSON.stringify(cfg));

const rows = cfg.rows.map(parseRow);
const evalDir = path.join(work, `${cfg.evalSplit}-none`);
const publishSeconds = {};
publishSeconds[`${cfg.evalSplit}-none`] = publish(cfg.evalSplit, { source: 'none' }, evalDir);
const cleanTrainDir = path.join(work, `${cfg.trainSplit}-none`);
publishSeconds[`${cfg.trainSplit}-none`] = publish(cfg.trainSplit, { source: 'none' }, cleanTrainDir);

const { classNames, classes, classOf, classKey } = await classMap([cleanTrainDir, evalDir]);
log(`${classes} labels: ${classNames.join(', ')}`);

const evalSet = await loadSplit(evalDir, { size: cfg.size, classOf, classKey, log });
log(`eval: ${evalSet.length} clean ${cfg.evalSplit} images at ${evalSet[0].width}x${evalSet[0].height}`);

let results = { config: cfg, classNames, runs: [], publishSeconds };
if (!opt.fresh && fs.existsSync(resultsFile)) {
  const prev = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
  const same = ['epochs', 'size', 'crop', 'batch', 'width', 'lr', 'limit', 'epsFg', 'epsBg', 'dataset'].every((k) => prev.config?.[k] === cfg[k]) &&
    (prev.config?.photometric ?? true) === cfg.photometric;
  if (same) {
    results = { ...prev, config: cfg, publishSeconds: { ...prev.publishSeconds, ...publishSeconds } };
    log(`resuming: ${prev.runs.length} runs already in ${path.relative(repoRoot, resultsFile)}`);
  } else log(`${path.relative(repoRoot, resultsFile)} has another config: starting over`);
}
const save = () => {
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  results.summary = summarise(results.runs);
  fs.writeFileSync(resultsFile, JSON.stringify(results, null, 1) + '\n');
};

function printTable() {
  console.log('\n' + markdownTable(results.runs));
}

const cache = new Map();
async function trainSet(row) {
  const key = row.key;
  if (cache.has(key)) return cache.get(key);
  const dir = row.source === 'none' ? cleanTrainDir : path.join(work, `${cfg.trainSplit}-${row.dirName}`);
  results.publishSeconds[`${cfg.trainSplit}-${row.dirName}`] ??= publish(cfg.trainSplit, row, dir);
  const set = await loadSplit(dir, { size: cfg.size, defense: row.defense, classOf, classKey, log });
  cache.clear(); // one train set in memory at a time; rows are grouped so reloads are rare
  cache.set(key, set);
  return set;
}

for (const { row, arch, seed } of planRuns(rows, cfg.archs, cfg.seeds, cfg.seededRows)) {
  if (results.runs.some((r) => r.row === row.label && r.arch === arch && r.seed === seed)) continue;
  let samples;
  try {
    samples = await trainSet(row);
  } catch (e) {
    log(`row ${row.label}: cannot build its train set (${e.message}); skipped`);
    continue;
  }
  log(`train ${row.label} / ${arch} / seed ${seed}: ${samples.length} images, ${cfg.epochs} epochs, crop ${cfg.crop} from ${cfg.size}px`);
  const t0 = Date.now();
  const { model, steps, finalLoss, lastEpochLoss } = await trainModel({
    arch, samples, classes, seed, epochs: cfg.epochs, batch: cfg.batch, crop: cfg.crop, lr: cfg.lr, width: cfg.width, photometric: cfg.photometric, log,
  });
  const ev = await evaluate(model, evalSet, classes);
  const wallSeconds = (Date.now() - t0) / 1000;
  model.params.dispose();
  const perClassIoU = Object.fromEntries(classNames.map((n, i) => [n, ev.iou[i]]));
  results.runs.push({
    row: row.label, arch, seed, miou: ev.miou, pixelAcc: ev.pixelAcc, perClassIoU, confusion: ev.confusion,
    steps, finalLoss, lastEpochLoss, wallSeconds, trainRes: `${cfg.crop}x${cfg.crop} crops from ${cfg.size}px${cfg.photometric ? '' : ', no photometric'}`, finishedAt: new Date().toISOString(),
  });
  save();
  log(`=> ${row.label} / ${arch} / seed ${seed}: mIoU ${ev.miou.toFixed(3)}, pixel acc ${ev.pixelAcc.toFixed(3)}, ${wallSeconds.toFixed(0)} s, tensors ${tf.memory().numTensors}`);
}
save();
printTable();
log(`results: ${path.relative(repoRoot, resultsFile)}`);
