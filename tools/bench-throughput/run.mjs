#!/usr/bin/env node
// Throughput of the protection pipeline against what sharp alone can do on the same images.
// Needs the built packages (NX_DAEMON=false npx nx run-many -t build). See README.md.
//
//   node tools/bench-throughput/run.mjs [--images 100] [--concurrency 4] [--generator DIR]
//        [--workers 1,2] [--memory] [--repeat 10] [--no-train] [--rows codec,codec-unseg,uniform,unseg]
//        [--codec-level 1] [--png-level L]
//
// Every measured row runs in its own child process, so that its peak RSS and CPU time are its
// own and one row's heap (or tfjs backend) does not tilt the next.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharpPng } from './sharp-png.mjs';
import { parseToolArgs } from '../lib/args.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const CLI = path.join(repo, 'packages/unseg-cli/dist/bin.js');
const DEFAULT_GENERATOR = path.join(repo, 'packages/unseg-core/models/default');
const STAGES = ['decode', 'masks', 'noise', 'apply', 'encode', 'verify', 'write'];
const LABELS = { codec: '(a) codec limit', 'codec-unseg': "(a') our codecs", uniform: '(b) uniform', unseg: '(c) unseg' };

// --help prints the README's opening section (the commands and what the rows are).
const { values: args } = parseToolArgs({
  name: 'bench-throughput',
  usage: () => readFileSync(path.join(here, 'README.md'), 'utf8').split('\n## ')[0],
  options: {
    child: { type: 'string' },
    data: { type: 'string', default: path.resolve(repo, '../shared/data/coco-facades') },
    split: { type: 'string', default: 'train' },
    images: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '4' },
    'shard-size': { type: 'string', default: '10' },
    generator: { type: 'string' },
    rows: { type: 'string', default: 'codec,codec-unseg,uniform,unseg' },
    workers: { type: 'string', default: '1,2' },
    'codec-workers': { type: 'string', default: '1' },
    'list-times': { type: 'string', default: '1' },
    memory: { type: 'boolean', default: false },
    'memory-noise': { type: 'string', default: 'uniform' },
    'memory-max-seconds': { type: 'string', default: '0' },
    repeat: { type: 'string', default: '10' },
    'no-train': { type: 'boolean', default: false },
    'train-data': { type: 'string', default: `sa1b:${path.resolve(repo, '../shared/data/sa1b-facades')}` },
    'train-steps': { type: 'string', default: '8' },
    'png-level': { type: 'string' },
    'codec-level': { type: 'string', default: '1' },
    out: { type: 'string', default: path.join(here, 'results') },
  },
  numbers: {
    images: { integer: true, min: 1 },
    concurrency: { integer: true, min: 1 },
    'shard-size': { integer: true, min: 1 },
    'list-times': { integer: true, min: 1 },
    'memory-max-seconds': { min: 0 },
    repeat: { integer: true, min: 1 },
    'train-steps': { integer: true, min: 1 },
    'png-level': { integer: true, min: 0, max: 9 },
    'codec-level': { integer: true, min: 0, max: 9 },
  },
});


// ---------------------------------------------------------------------------------------------
// Child: one measured row. Prints one JSON line.

async function child(spec) {
  const core = await import('@unseg/core');
  // Every row, the codec limits included, runs with the heap setting that `unseg-pipeline run`
  // gives itself (none when BENCH_CHILD_NODE_ARGS names --heap-growing-percent).
  (await import('@unseg/cli')).tunePublishingHeap();
  const stages = Object.fromEntries(STAGES.map((s) => [s, 0]));
  const onStage = (i) => (stages[i.stage] += i.ms);
  // RSS sampled over the run, to show that it levels off rather than only its maximum.
  const rssTrace = [];
  const t00 = performance.now();
  const sampler = setInterval(() => rssTrace.push([Math.round(performance.now() - t00), process.memoryUsage().rss]), 250);
  let images = 0;
  let failed = 0;
  let seconds = 0;
  let setupSeconds = 0;
  let noiseDescription = null;
  let interrupted = false;
  // Wall-clock ends of the measured part, so that n workers' runs are timed from the first start
  // to the last end (they do not start at the same moment).
  let startedAt = 0;
  let endedAt = 0;
  // CPU time of the measured part only (not module loading or the model's setup): on a loaded
  // machine it is steadier than wall time, and it says what a dedicated core would cost.
  let cpuStart = cpuMark();
  if (spec.row === 'codec' || spec.row === 'codec-unseg') {
    // Codecs only, in two ordered stages as in the pipeline: decode (concurrency C) -> PNG
    // encode -> decode again (concurrency C). `codec` is sharp alone, its own PNG encoder at
    // zlib level --codec-level (1, its fastest): the limit the issue sets. `codec-unseg` is
    // the pipeline's codec path, whose PNG encoder is core's own (image/png.ts), so the rows
    // below it show what masks, noise and shard writing add.
    const encodePng = spec.row === 'codec' ? (image) => sharpPng(image, spec.codecLevel) : (image) => core.encodeRgb(image, spec.encode);
    // As n pipeline workers split a run by shard, n codec workers take every n-th image.
    const files = (await imageFiles(spec)).filter((_, i) => !spec.worker || i % spec.worker.count === spec.worker.index);
    cpuStart = cpuMark();
    startedAt = Date.now();
    const t0 = performance.now();
    const decoded = core.mapOrdered(
      (async function* () {
        yield* files;
      })(),
      async (file) => {
        const t = performance.now();
        const { image } = await core.decodeRgb(file);
        onStage({ stage: 'decode', ms: performance.now() - t });
        return image;
      },
      spec.concurrency,
    );
    const published = core.mapOrdered(
      decoded,
      async (image) => {
        let t = performance.now();
        const bytes = await encodePng(image);
        onStage({ stage: 'encode', ms: performance.now() - t });
        t = performance.now();
        const again = await core.decodeRgb(bytes);
        onStage({ stage: 'verify', ms: performance.now() - t });
        return again.image.width;
      },
      spec.concurrency,
    );
    for await (const w of published) if (w > 0) images++;
    seconds = (performance.now() - t0) / 1000;
    endedAt = Date.now();
  } else {
    const { default: coco } = await import('@unseg/plugin-coco');
    const t = performance.now();
    const noise = await core.createNoiseSource(spec.noise, { seed: 0, backend: 'auto', ...(spec.noise === 'unseg' ? { generator: spec.generator } : {}) });
    setupSeconds = (performance.now() - t) / 1000;
    noiseDescription = noise.description;
    const reader = await coco.open(spec.data);
    cpuStart = cpuMark();
    // A time cap for long memory runs: the run stops at a shard boundary, as on Ctrl-C.
    const controller = new AbortController();
    const cap = spec.maxSeconds > 0 ? setTimeout(() => controller.abort(), spec.maxSeconds * 1000) : undefined;
    try {
      startedAt = Date.now();
      const summary = await core.runDataset({
        signal: controller.signal,
        reader,
        outDir: spec.outDir,
        splits: spec.splits,
        limit: spec.limit,
        shardSize: spec.shardSize,
        format: 'parquet',
        worker: spec.worker,
        noise,
        budget: { epsFg: 8 / 255, epsBg: 2 / 255 },
        prompt: { kind: 'all' },
        encode: spec.encode,
        concurrency: spec.concurrency,
        root: spec.data,
        listener: { onStage },
      });
      endedAt = Date.now();
      images = summary.published;
      failed = summary.failed;
      seconds = summary.seconds;
      interrupted = summary.interrupted;
    } finally {
      clearTimeout(cap);
      await noise.dispose?.();
    }
  }
  clearInterval(sampler);
  const { cpuSeconds, cpuSplit } = cpuSince(cpuStart);
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      row: spec.row,
      images,
      failed,
      interrupted,
      seconds,
      startedAt,
      endedAt,
      setupSeconds,
      noise: noiseDescription,
      stagesMs: stages,
      cpuSeconds,
      cpuSplit,
      peakRssMiB: usage.maxRSS / 1024,
      rssTrace: thin(rssTrace, 40).map(([ms, rss]) => [ms, Math.round(rss / 1048576)]),
    })}\n`,
  );
}

/**
 * CPU seconds so far of the main (JavaScript) thread and of libvips' worker threads, from
 * /proc/self/task (Linux; null elsewhere). The process total says what a row costs; this says
 * whose work it is: sharp's codecs run on libvips' threads, everything the pipeline adds in
 * JavaScript on the main thread, and the rest (the pipeline's PNG deflate and file writes on
 * libuv's pool, V8's garbage-collector and compiler helpers) on node's other threads.
 */
function threadCpuSeconds() {
  const dir = '/proc/self/task';
  if (!existsSync(dir)) return null;
  const ticks = 100; // USER_HZ, 100 on every Linux that node supports
  let main = 0;
  let codec = 0;
  for (const tid of readdirSync(dir)) {
    try {
      const stat = readFileSync(`${dir}/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticks;
      if (Number(tid) === process.pid) main += seconds;
      else if (readFileSync(`${dir}/${tid}/comm`, 'utf8').startsWith('libvips')) codec += seconds;
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return { main, codec };
}

/** The process's CPU time and its threads' so far, to measure a part of the run from. */
function cpuMark() {
  return { usage: process.cpuUsage(), threads: threadCpuSeconds() };
}

/**
 * CPU seconds since `mark`, in all and by thread kind (null where /proc is missing). "other" is
 * the process total less the two named kinds, so it also holds threads that ended meanwhile.
 */
function cpuSince(mark) {
  const usage = process.cpuUsage(mark.usage);
  const cpuSeconds = (usage.user + usage.system) / 1e6;
  const threads = threadCpuSeconds();
  if (!mark.threads || !threads) return { cpuSeconds, cpuSplit: null };
  const main = threads.main - mark.threads.main;
  const codec = threads.codec - mark.threads.codec;
  return { cpuSeconds, cpuSplit: { mainJs: main, codecThreads: codec, otherThreads: Math.max(0, cpuSeconds - main - codec) } };
}

/** The image files of the first `limit` samples of the split, in the reader's order. */
async function imageFiles(spec) {
  const { default: coco } = await import('@unseg/plugin-coco');
  const reader = await coco.open(spec.data);
  const files = [];
  for (const split of spec.splits ?? (await reader.splits())) {
    let n = 0;
    for await (const s of reader.samples(split)) {
      if (spec.limit !== undefined && n++ >= spec.limit) break;
      if (s.image?.kind === 'file') files.push(s.image.path);
    }
  }
  return files;
}

function thin(points, n) {
  if (points.length <= n) return points;
  const step = points.length / n;
  return Array.from({ length: n }, (_, i) => points[Math.floor(i * step)]).concat([points.at(-1)]);
}

// ---------------------------------------------------------------------------------------------
// Parent: runs the rows, prints the table, writes JSON.

// Extra node flags for the row processes, e.g. BENCH_CHILD_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'
// for a CPU profile of each row (node refuses --cpu-prof in NODE_OPTIONS).
const childNodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);

function runChild(spec) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...childNodeArgs, fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: repo,
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) return reject(new Error(`row ${spec.row} exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(line));
    });
  });
}

let runCounter = 0;

/** n worker processes at once (--shard-index i --shard-count n), as one result. */
async function runWorkers(spec, n, tmp) {
  // A fresh folder per measurement: a rerun into a used one would resume (and skip) instead.
  const outDir = path.join(tmp, `run-${++runCounter}-${spec.row}-w${n}`);
  const t0 = performance.now();
  const parts = await Promise.all(
    Array.from({ length: n }, (_, index) => runChild({ ...spec, outDir, worker: n > 1 ? { index, count: n } : undefined })),
  );
  const wall = (performance.now() - t0) / 1000;
  const images = parts.reduce((a, p) => a + p.images, 0);
  const stagesMs = Object.fromEntries(STAGES.map((s) => [s, parts.reduce((a, p) => a + (p.stagesMs[s] ?? 0), 0)]));
  return {
    row: spec.row,
    workers: n,
    images,
    failed: parts.reduce((a, p) => a + p.failed, 0),
    interrupted: parts.some((p) => p.interrupted),
    // One worker: its own run (from its first image to its last shard), excluding process start
    // and model load, which a long job pays once. Several: from the first worker's start to the
    // last one's end, since staggered starts do not overlap (the slowest worker's own time
    // alone, used for the tables before 2026-11-26 11:30 UTC, overstates the rate).
    seconds: n === 1 ? parts[0].seconds : (Math.max(...parts.map((p) => p.endedAt)) - Math.min(...parts.map((p) => p.startedAt))) / 1000,
    slowestWorkerSeconds: Math.max(...parts.map((p) => p.seconds)),
    wallSeconds: wall,
    setupSeconds: Math.max(...parts.map((p) => p.setupSeconds)),
    noise: parts[0].noise,
    stagesMs,
    cpuSeconds: parts.reduce((a, p) => a + p.cpuSeconds, 0),
    cpuSplit: parts.every((p) => p.cpuSplit)
      ? Object.fromEntries(['mainJs', 'codecThreads', 'otherThreads'].map((k) => [k, parts.reduce((a, p) => a + p.cpuSplit[k], 0)]))
      : null,
    peakRssMiB: Math.max(...parts.map((p) => p.peakRssMiB)),
    rssTrace: parts[0].rssTrace,
  };
}

async function sh(cmd, argv) {
  return new Promise((resolve) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => resolve(out.trim()));
    p.on('error', () => resolve(''));
  });
}

async function load() {
  const [l1, l5, l15] = os.loadavg();
  return { loadavg: [l1, l5, l15].map((x) => Math.round(x * 100) / 100), cpus: os.cpus().length, uptime: await sh('uptime', []) };
}

/** Median step time per phase from a train-log.jsonl, leaving out each phase's first step (backend warm-up). */
function stepTimes(log) {
  const steps = log.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.kind === 'step');
  const out = {};
  for (const phase of ['G', 'S']) {
    const ms = steps.filter((s) => s.phase === phase).map((s) => s.ms).slice(1).sort((a, b) => a - b);
    out[phase] = ms.length ? { medianMs: ms[Math.floor(ms.length / 2)], steps: ms.length, allMs: ms } : null;
  }
  return out;
}

async function trainStep(generatorDir, tmp) {
  const cfg = JSON.parse(await fs.readFile(path.join(generatorDir, 'generator.json'), 'utf8'));
  const batch = cfg.training?.trainerOptions?.batchSize ?? 8;
  const size = cfg.workingSize;
  const out = path.join(tmp, 'train');
  const steps = args['train-steps'];
  // step:1:1 alternates S and G every step, so both phases are timed in a short run.
  const argv = [CLI, 'train', '--data', args['train-data'], '--out', out, '--epochs', '1', '--max-images', String(batch),
    '--batch', String(batch), '--size', String(size), '--schedule', 'step:1:1', '--steps-per-epoch', String(steps)];
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const p = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], cwd: repo });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`train exited ${code}: ${err.slice(-2000)}`))));
  });
  const trained = JSON.parse(await fs.readFile(path.join(out, 'generator.json'), 'utf8'));
  return {
    command: `node ${argv.map((a) => path.relative(repo, a) || a).join(' ')}`,
    size,
    batch,
    backend: trained.training?.backend ?? null,
    seconds: (performance.now() - t0) / 1000,
    ...stepTimes(await fs.readFile(path.join(out, 'train-log.jsonl'), 'utf8')),
  };
}

/**
 * The same images listed `times` times with distinct ids (a COCO split of hard links, or
 * copies across file systems, into `tmp`), for a run `times` as long over the same data.
 */
async function repeatedCoco(data, times, tmp, { splits, limit } = {}) {
  const { default: coco } = await import('@unseg/plugin-coco');
  const root = path.join(tmp, `coco-x${times}${splits ? `-${splits.join('-')}` : ''}`);
  await fs.mkdir(path.join(root, 'train'), { recursive: true });
  const json = { images: [], annotations: [], categories: [] };
  const reader = await coco.open(data);
  let nextAnn = 1;
  const originals = [];
  for (const split of splits ?? (await reader.splits())) {
    const file = path.join(data, split, '_annotations.coco.json');
    const j = JSON.parse(await fs.readFile(file, 'utf8'));
    if (json.categories.length === 0) json.categories = j.categories;
    const anns = new Map();
    for (const a of j.annotations) (anns.get(a.image_id) ?? anns.set(a.image_id, []).get(a.image_id)).push(a);
    // The reader's order (by id), so that the first `limit` are the ones the other rows see.
    const images = [...j.images].sort((a, b) => a.id - b.id);
    for (const img of limit === undefined ? images : images.slice(0, limit)) {
      const name = `${split}-${path.basename(img.file_name)}`;
      const from = path.join(data, split, img.file_name);
      await fs.link(from, path.join(root, 'train', name)).catch(() => fs.copyFile(from, path.join(root, 'train', name)));
      originals.push({ img: { ...img, file_name: name }, anns: anns.get(img.id) ?? [] });
    }
  }
  let id = 1;
  for (let r = 0; r < times; r++) {
    for (const { img, anns } of originals) {
      json.images.push({ ...img, id });
      for (const a of anns) json.annotations.push({ ...a, id: nextAnn++, image_id: id });
      id++;
    }
  }
  await fs.writeFile(path.join(root, 'train', '_annotations.coco.json'), JSON.stringify(json));
  return { root, images: json.images.length };
}

const fmt = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));

/** A row's CPU milliseconds per image on the main thread, libvips' threads and the others. */
function split(r) {
  if (!r.cpuSplit || r.images === 0) return '-';
  const ms = (s) => fmt((1000 * s) / r.images, 1).padStart(5);
  return `${ms(r.cpuSplit.mainJs)} ${ms(r.cpuSplit.codecThreads)} ${ms(r.cpuSplit.otherThreads)}`;
}

function printRows(title, rows, codec, ours) {
  const line = (s) => process.stdout.write(`${s}\n`);
  line(`\n${title}`);
  line(
    "row               workers images   img/s  x codec   x ours  cpu-s/img  CPU ms/img: main vips other  peak RSS  stage busy share (decode masks noise apply encode verify write)",
  );
  for (const r of rows) {
    const total = STAGES.reduce((a, s) => a + r.stagesMs[s], 0);
    const share = STAGES.map((s) => `${Math.round((100 * r.stagesMs[s]) / Math.max(total, 1e-9))}`.padStart(3)).join(' ');
    line(
      `${r.label.padEnd(17)} ${String(r.workers).padStart(7)} ${String(r.images).padStart(6)} ${fmt(r.imagesPerSecond).padStart(7)} ` +
        `${fmt(codec ? r.imagesPerSecond / codec.imagesPerSecond : null).padStart(8)} ${fmt(ours ? r.imagesPerSecond / ours.imagesPerSecond : null).padStart(8)} ` +
        `${fmt(r.cpuSeconds / r.images, 3).padStart(10)} ` +
        `${split(r).padStart(29)} ${`${Math.round(r.peakRssMiB)} MiB`.padStart(9)}  ${share} %`,
    );
  }
}

async function parent() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (NX_DAEMON=false npx nx run-many -t build)`);
  const data = path.resolve(args.data);
  const rowsWanted = args.rows.split(',').filter(Boolean);
  const workerCounts = args.workers.split(',').map(Number).filter((n) => n >= 1);
  const concurrency = args.concurrency;
  // Every row publishes PNG the pipeline's default way (Huffman coding only) unless --png-level
  // names a zlib level.
  const pngLevel = args['png-level'];
  const encode = pngLevel === undefined ? { format: 'png' } : { format: 'png', compressionLevel: pngLevel };
  const codecLevel = args['codec-level'];
  const limit = args.images;
  let generator = args.generator ? path.resolve(args.generator) : DEFAULT_GENERATOR;
  let generatorNote = args.generator ? 'given with --generator' : 'the bundled default generator';
  if (rowsWanted.includes('unseg') && !existsSync(path.join(generator, 'generator.json'))) {
    throw new Error(`no generator at ${generator}: pass --generator <dir> (any trained one times the same architecture)`);
  }
  if (existsSync(path.join(generator, 'generator.json'))) {
    const cfg = JSON.parse(await fs.readFile(path.join(generator, 'generator.json'), 'utf8'));
    generatorNote += ` (U-Net ${cfg.widths.join('-')}, working size ${cfg.workingSize})`;
  }
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-bench-'));
  const result = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    command: `node tools/bench-throughput/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    // What else shapes the numbers, so that an experiment's result file says what it changed.
    environment: {
      childNodeArgs,
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => /^(MALLOC_|GLIBC_TUNABLES$|UV_THREADPOOL_SIZE$|VIPS_|NODE_OPTIONS$|LD_PRELOAD$)/.test(k)),
      ),
    },
    settings: { data, split: args.split, images: limit, concurrency, shardSize: args['shard-size'], encode: pngLevel === undefined ? 'png (Huffman only)' : `png level ${pngLevel}`, codecLimit: `sharp png level ${codecLevel}`, budget: '8/255, 2/255', generator, generatorNote },
    loadBefore: await load(),
    rows: [],
    memory: [],
    train: null,
  };
  const base = { data, splits: [args.split], limit, concurrency, shardSize: args['shard-size'], generator, encode, codecLevel };
  // On a many-core machine one process does not fill the cores: --list-times gives the rows a
  // longer run over the same images (distinct ids), and --codec-workers runs the codec limit as
  // several processes too, so that the limit is what the machine's cores can do.
  const listTimes = args['list-times'];
  if (listTimes > 1) {
    const rep = await repeatedCoco(data, listTimes, tmp, { splits: [args.split], limit });
    Object.assign(base, { data: rep.root, splits: ['train'], limit: undefined });
    result.settings.listed = `${args.split} (first ${limit}) listed ${listTimes} times: ${rep.images} samples`;
  }
  const codecWorkers = args['codec-workers'].split(',').map(Number).filter((n) => n >= 1);
  try {
    const measured = [];
    for (const row of rowsWanted) {
      for (const n of row.startsWith('codec') ? codecWorkers : workerCounts) {
        process.stderr.write(`bench: ${row}, ${n} worker(s)...\n`);
        const r = await runWorkers({ ...base, row, noise: row }, n, tmp);
        r.label = LABELS[row] ?? row;
        r.imagesPerSecond = r.images / r.seconds;
        measured.push(r);
      }
    }
    // Each limit is the fastest run of its row, whatever its number of workers.
    const fastest = (row) => measured.filter((r) => r.row === row).sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)[0];
    const codec = fastest('codec');
    const ours = fastest('codec-unseg');
    for (const r of measured) {
      result.rows.push({
        ...r,
        ratioToCodec: codec ? r.imagesPerSecond / codec.imagesPerSecond : null,
        ratioToOurCodecs: ours ? r.imagesPerSecond / ours.imagesPerSecond : null,
      });
    }
    result.loadAfterRows = await load();
    const listed = listTimes > 1 ? ` listed ${listTimes} times` : '';
    printRows(`throughput, ${limit} images of ${path.basename(data)}/${args.split}${listed}, concurrency ${concurrency}`, result.rows, codec, ours);

    if (args.memory) {
      const specs = [
        { label: '100 images', data, splits: [args.split], limit: 100, total: 100 },
        { label: 'all images (every split)', data, splits: undefined, limit: undefined, total: null },
      ];
      const times = args.repeat;
      if (times > 1) {
        process.stderr.write(`bench: listing the folder ${times} times...\n`);
        const rep = await repeatedCoco(data, times, tmp);
        specs.push({ label: `folder listed ${times}x`, data: rep.root, splits: ['train'], limit: undefined, total: rep.images });
      }
      for (const s of specs) {
        process.stderr.write(`bench: memory, ${s.label}...\n`);
        const maxSeconds = args['memory-max-seconds'];
        const r = await runWorkers({ ...base, ...s, row: args['memory-noise'], noise: args['memory-noise'], shardSize: 20, maxSeconds }, 1, tmp);
        r.of = s.total;
        r.label = s.label;
        r.imagesPerSecond = r.images / r.seconds;
        result.memory.push(r);
      }
      result.loadAfterMemory = await load();
      process.stdout.write(`\npeak RSS by dataset size (--noise ${args['memory-noise']}, concurrency ${concurrency}, shard size 20)\n`);
      for (const r of result.memory) {
        const trace = r.rssTrace.map(([, mb]) => mb);
        const q = (f) => trace[Math.min(trace.length - 1, Math.floor(f * trace.length))];
        process.stdout.write(
          `${r.label.padEnd(28)} ${String(r.images).padStart(6)} images${r.interrupted ? ` (stopped at the ${args['memory-max-seconds']} s cap${r.of ? ` of ${r.of}` : ''})` : ''}  peak ${Math.round(r.peakRssMiB)} MiB  ` +
            `RSS at 25/50/75/100% of the run: ${q(0.25)}/${q(0.5)}/${q(0.75)}/${trace.at(-1)} MiB  ${fmt(r.imagesPerSecond)} img/s\n`,
        );
      }
    }

    if (!args['no-train'] && existsSync(path.join(generator, 'generator.json'))) {
      process.stderr.write('bench: training steps...\n');
      result.train = await trainStep(generator, tmp);
      const t = result.train;
      process.stdout.write(
        `\ntraining step (batch ${t.batch}, ${t.size}x${t.size}, backend ${t.backend}): generator ${t.G ? `${t.G.medianMs} ms` : '-'}, ` +
          `surrogate ${t.S ? `${t.S.medianMs} ms` : '-'} (median of ${t.G?.steps ?? 0} G / ${t.S?.steps ?? 0} S steps after the first of each)\n`,
      );
    }
    result.loadAfter = await load();
    const l = result.loadBefore.loadavg;
    const la = result.loadAfter.loadavg;
    process.stdout.write(`\nload average before ${l.join(', ')}, after ${la.join(', ')} on ${result.machine.cpus} CPUs; ${generatorNote}\n`);
    await fs.mkdir(args.out, { recursive: true });
    const file = path.join(args.out, `throughput-${result.date.replace(/[:.]/g, '-')}.json`);
    await fs.writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

// Dispatch last: the helpers above are `const`s, not hoisted.
if (args.child) {
  await child(JSON.parse(args.child));
  process.exit(0);
}
await parent();
