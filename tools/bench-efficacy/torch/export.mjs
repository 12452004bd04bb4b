// Writes the compact bundle that tools/bench-efficacy/torch/train.py trains on (on a machine
// without node): the published shards read back with the tfjs benchmark's own functions
// (lib/data.mjs: listShards/readShard/prepareSample via loadSplit, lib/labels.mjs: paintLabels),
// resized to --size with the same sharp resize, then stored as
//   - the clean train and clean valid images as JPEG (the shared base of every row),
//   - the semantic labels (0 = background, 1..K, nearest resize) as zlib'd raw uint8,
//   - per protected row, the exact integer difference resize(protected) - resize(clean) as
//     zlib'd int8, planar NCHW (the trainer rebuilds the row as clip(base + diff, 0, 255)).
//
//   node tools/bench-efficacy/torch/export.mjs [--work out/bench-efficacy/coco-facades]
//     [--out out/torch-bundle] [--size 256] [--quality 95] [--chroma 4:4:4]
//     [--rows none=train-none,unseg=train-unseg,oracle=train-classwise-cell4096]
//     [--valid valid-none] [--max-mib 45]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { repoRoot, coreRequire } from '../lib/tf.mjs';
import { classMap, loadSplit } from '../lib/data.mjs';

const sharp = (await import(coreRequire.resolve('sharp'))).default;

const { values: opt } = parseArgs({
  options: {
    work: { type: 'string', default: 'out/bench-efficacy/coco-facades' },
    out: { type: 'string', default: 'out/torch-bundle' },
    size: { type: 'string', default: '256' },
    quality: { type: 'string', default: '95' },
    chroma: { type: 'string', default: '4:4:4' },
    rows: { type: 'string', default: 'none=train-none,unseg=train-unseg,oracle=train-classwise-cell4096' },
    valid: { type: 'string', default: 'valid-none' },
    'max-mib': { type: 'string', default: '45' },
  },
});

const work = path.resolve(repoRoot, opt.work);
const outDir = path.resolve(repoRoot, opt.out);
const size = Number(opt.size);
const quality = Number(opt.quality);
const rows = opt.rows.split(',').map((s) => {
  const [name, dir] = s.split('=');
  return { name, dir: path.join(work, dir ?? name) };
});
const clean = rows.find((r) => r.name === 'none');
if (!clean) throw new Error('--rows must contain none=<clean train folder> (the base)');
const validDir = path.join(work, opt.valid);
const log = (m) => console.log(m);
const t0 = Date.now();

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });

// Class map exactly as run.mjs builds it: ids present in the clean train and eval shards.
const { classNames, classes, classOf, classKey } = await classMap([clean.dir, validDir]);
log(`classes (${classes}): ${classNames.join(', ')}`);

const deflate = (buf) => zlib.deflateSync(buf, { level: 9 });
const files = {};
const write = (name, buf) => {
  fs.writeFileSync(path.join(outDir, name), buf);
  files[name] = buf.length;
};

/** Base images as JPEG, concatenated into one file; returns offsets and the JPEG's error stats. */
async function writeBase(name, samples) {
  const parts = [];
  const offsets = [0];
  let sq = 0;
  let n = 0;
  let maxAbs = 0;
  for (const s of samples) {
    const jpg = await sharp(Buffer.from(s.image.buffer, s.image.byteOffset, s.image.length), {
      raw: { width: s.width, height: s.height, channels: 3 },
    })
      .jpeg({ quality, chromaSubsampling: opt.chroma })
      .toBuffer();
    parts.push(jpg);
    offsets.push(offsets.at(-1) + jpg.length);
    const back = await sharp(jpg).raw().toBuffer();
    for (let i = 0; i < back.length; i++) {
      const d = back[i] - s.image[i];
      sq += d * d;
      if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
    }
    n += back.length;
  }
  write(name, Buffer.concat(parts));
  const mse = sq / n;
  return { offsets, jpegError: { rmse: Math.sqrt(mse), psnr: 10 * Math.log10((255 * 255) / mse), maxAbs } };
}

function labelsBlob(samples) {
  const buf = Buffer.alloc(samples.length * size * size);
  samples.forEach((s, i) => buf.set(s.labels, i * size * size));
  return deflate(buf);
}

function checkShape(samples, what) {
  for (const s of samples) {
    if (s.width !== size || s.height !== size) {
      throw new Error(`${what} ${s.id} is ${s.width}x${s.height}, this bundle assumes square ${size}x${size} images`);
    }
  }
}

const cleanSet = await loadSplit(clean.dir, { size, classOf, classKey, log });
const validSet = await loadSplit(validDir, { size, classOf, classKey, log });
checkShape(cleanSet, 'train image');
checkShape(validSet, 'valid image');

const index = {
  version: 1,
  createdAt: new Date().toISOString(),
  source: { work: path.relative(repoRoot, work), valid: path.relative(repoRoot, validDir) },
  size,
  channels: 3,
  layout: 'NHWC uint8 images; labels NHW uint8 (0 = background, 1..K, 255 = ignore); diffs NCHW (planar) int8',
  resize: "sharp resize(fit: 'fill'), default lanczos3, via tools/bench-efficacy/lib/data.mjs prepareSample; labels rasterised at full size and resampled nearest (lib/labels.mjs)",
  base: { format: 'jpeg', quality, chromaSubsampling: opt.chroma, encoder: `sharp ${sharp.versions.sharp} (mozjpeg)` },
  classes,
  classNames,
  // The dataset's category id of each class 1..K (class i is the i-th id that occurs, not id i).
  categoryIds: classKey.split(',').map(Number),
  ignoreIndex: 255,
  splits: {},
  rows: {},
};

/** One split's clean base images and labels, and its entry in index.json. */
async function writeSplit(name, set) {
  const base = await writeBase(`${name}-base.jpgs`, set);
  write(`${name}-labels.u8.zlib`, labelsBlob(set));
  index.splits[name] = {
    count: set.length,
    ids: set.map((s) => s.id),
    base: `${name}-base.jpgs`,
    baseOffsets: base.offsets,
    baseJpegError: base.jpegError,
    labels: `${name}-labels.u8.zlib`,
  };
  return base;
}
const trainBase = await writeSplit('train', cleanSet);
const validBase = await writeSplit('valid', validSet);
log(`bases: train JPEG error ${JSON.stringify(trainBase.jpegError)}, valid ${JSON.stringify(validBase.jpegError)}`);

for (const row of rows) {
  const manifest = JSON.parse(fs.readFileSync(path.join(row.dir, 'manifest.json'), 'utf8'));
  const meta = {
    shards: path.relative(repoRoot, row.dir),
    noise: manifest.run?.args?.noise,
    noiseSettings: manifest.noise?.settings ?? null,
    epsFgSteps: manifest.noise?.epsFgSteps,
    epsBgSteps: manifest.noise?.epsBgSteps,
    noiseSummary: manifest.noiseSummary,
  };
  if (row === clean) {
    index.rows[row.name] = { ...meta, diff: null };
    continue;
  }
  const set = await loadSplit(row.dir, { size, classOf, classKey, log });
  if (set.length !== cleanSet.length) throw new Error(`${row.name}: ${set.length} samples, clean has ${cleanSet.length}`);
  const n = size * size * 3;
  const diff = new Int8Array(cleanSet.length * n);
  let absSum = 0;
  let maxAbs = 0;
  let nonzero = 0;
  set.forEach((s, i) => {
    const c = cleanSet[i];
    if (s.id !== c.id) throw new Error(`${row.name}: sample ${i} is ${s.id}, clean has ${c.id}`);
    if (s.width !== c.width || s.height !== c.height) throw new Error(`${row.name} ${s.id}: size differs from clean`);
    for (let j = 0; j < s.labels.length; j++) {
      if (s.labels[j] !== c.labels[j]) throw new Error(`${row.name} ${s.id}: labels differ from the clean copy's`);
    }
    for (let j = 0; j < n; j++) {
      const d = s.image[j] - c.image[j];
      if (d < -128 || d > 127) throw new Error(`${row.name} ${s.id}: difference ${d} does not fit int8`);
      // Planar (NCHW): deflate packs it ~12% smaller than interleaved for the generator's noise.
      diff[i * n + (j % 3) * size * size + Math.floor(j / 3)] = d;
      const a = Math.abs(d);
      absSum += a;
      if (a > maxAbs) maxAbs = a;
      if (a) nonzero++;
    }
  });
  const name = `train-${row.name}.diff.i8.zlib`;
  write(name, deflate(Buffer.from(diff.buffer)));
  index.rows[row.name] = {
    ...meta,
    diff: name,
    diffStats: { meanAbs: absSum / diff.length, maxAbs, nonzeroFraction: nonzero / diff.length },
  };
  log(`${row.name}: diff mean |d| ${(absSum / diff.length).toFixed(3)}, max ${maxAbs}, ${(files[name] / 2 ** 20).toFixed(2)} MiB`);
}

index.files = files;
fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index, null, 1));
const total = fs.readdirSync(outDir).reduce((a, f) => a + fs.statSync(path.join(outDir, f)).size, 0);
for (const [f, b] of Object.entries(files)) log(`  ${f}: ${(b / 2 ** 20).toFixed(2)} MiB`);
log(`bundle ${path.relative(repoRoot, outDir)}: ${(total / 2 ** 20).toFixed(2)} MiB (${total} bytes), ${((Date.now() - t0) / 1000).toFixed(0)} s`);
if (total > Number(opt['max-mib']) * 2 ** 20) {
  console.error(`bundle is over --max-mib ${opt['max-mib']}: lower --quality or use --chroma 4:2:0`);
  process.exit(1);
}
