#!/usr/bin/env node
// Checks a shard folder written by `unseg-pipeline run` the way a user would read it: every
// Parquet shard through DuckDB (Arrow IPC shards through apache-arrow, which DuckDB cannot
// read without an extension), against its stats file and the manifest.
//
//   node tools/check-shards.mjs <shards dir> [--budget-fg 8/255] [--budget-bg 2/255] [--quiet]
//
// Checks: each data file has its stats file with the same size and sha256; row counts agree
// between file, stats and manifest; positions lie in the shard's range and no (split, position)
// appears twice; every image decodes (sharp) to the stored width x height; the stored noise
// stats are within the budgets (given as fractions of 255, e.g. 8/255, or plain numbers);
// the `huggingface` metadata is present, parses and declares `image` as an Image.
// Prints a table and exits 1 on any problem.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { fail, parseToolArgs } from './lib/args.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
// sharp and apache-arrow are dependencies of @unseg/core, so resolve them from there.
const coreRequire = createRequire(join(here, '../packages/unseg-core/package.json'));
const sharp = coreRequire('sharp');
const arrow = await import(coreRequire.resolve('apache-arrow'));

const USAGE = `
Checks a shard folder written by \`unseg-pipeline run\` the way a user would read it (DuckDB,
apache-arrow, sharp): files against stats and manifest, positions, images, noise budgets and
the huggingface metadata. Prints a table; exit 1 on any problem.

usage: node tools/check-shards.mjs <shards dir> [--budget-fg 8/255] [--budget-bg 2/255] [--quiet]

options:
  --budget-fg B   max |delta| allowed inside the prompt, a fraction of 255 (8/255) or a number [not checked]
  --budget-bg B   the same outside the prompt [not checked]
  --quiet         print the table only when there is a problem [off]
  -h, --help      this text`;

function usage(msg) {
  fail('check-shards', `${msg} (see --help)`);
}

/** "8/255" or "0.0314" -> the budget in 0..255 units, the unit of the stored noise stats. */
function parseBudget(text) {
  const m = /^\s*([0-9.]+)\s*(?:\/\s*([0-9.]+))?\s*$/.exec(text ?? '');
  if (!m) usage(`cannot read budget ${JSON.stringify(text)}`);
  const v = m[2] === undefined ? Number(m[1]) : Number(m[1]) / Number(m[2]);
  if (!Number.isFinite(v) || v < 0 || v > 1) usage(`budget ${text} is not in [0, 1]`);
  return v * 255;
}

const { values, positionals } = parseToolArgs({
  name: 'check-shards',
  usage: USAGE,
  options: { 'budget-fg': { type: 'string' }, 'budget-bg': { type: 'string' }, quiet: { type: 'boolean', default: false } },
  allowPositionals: true,
});
if (positionals.length === 0) usage('no shards dir given');
if (positionals.length > 1) usage(`unexpected argument ${positionals[1]}`);
const dir = resolve(positionals[0]);
const budgetFg = values['budget-fg'] === undefined ? undefined : parseBudget(values['budget-fg']);
const budgetBg = values['budget-bg'] === undefined ? undefined : parseBudget(values['budget-bg']);
const quiet = values.quiet;

const NAME_RE = /^([A-Za-z0-9][A-Za-z0-9._-]*?)-(\d{5,})(?:-w(\d+)of(\d+))?\.(parquet|arrow)$/;
// Stored stats are rounded differences of 8-bit pixels; allow float noise only.
const EPS = 1e-9;

const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

async function sha256(path) {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk);
  return h.digest('hex');
}

async function readJson(path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    return err.code === 'ENOENT' ? undefined : { __error: err.message };
  }
}

function checkHfMetadata(where, text) {
  if (text === undefined) return problem(where, 'no "huggingface" key-value metadata'), 'missing';
  try {
    const features = JSON.parse(text)?.info?.features;
    if (!features || typeof features !== 'object') return problem(where, 'huggingface metadata has no info.features'), 'bad';
    if (features.image?._type !== 'Image') return problem(where, 'huggingface metadata does not declare image as Image'), 'bad';
    return 'ok';
  } catch (err) {
    problem(where, `huggingface metadata does not parse: ${err.message}`);
    return 'bad';
  }
}

const files = (await readdir(dir).catch((err) => usage(`cannot read ${dir}: ${err.message}`))).sort();
const dataFiles = files.filter((f) => NAME_RE.test(f));
if (dataFiles.length === 0) problem(dir, 'no shard files found');
const manifestNames = files.filter((f) => /^manifest(-w\d+of\d+)?\.json$/.test(f));
const manifests = {};
for (const m of manifestNames) {
  const v = await readJson(join(dir, m));
  if (v?.__error) problem(m, `does not parse: ${v.__error}`);
  else manifests[m] = v;
}
if (manifestNames.length === 0) problem(dir, 'no manifest.json (or manifest-w*.json)');
// Shard entries by file name across all manifests found.
const manifestShards = new Map();
for (const [name, m] of Object.entries(manifests)) for (const s of m.shards ?? []) manifestShards.set(s.file, { ...s, manifest: name });

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const sql = (s) => `'${s.replaceAll("'", "''")}'`;

async function decodeCheck(where, position, bytes, width, height) {
  try {
    const img = sharp(Buffer.from(bytes), { failOn: 'error', limitInputPixels: 1 << 28 });
    const meta = await img.metadata();
    await img.raw().toBuffer();
    if (meta.width !== width || meta.height !== height) {
      problem(where, `position ${position}: image is ${meta.width}x${meta.height}, row says ${width}x${height}`);
      return false;
    }
    return true;
  } catch (err) {
    problem(where, `position ${position}: image does not decode: ${err.message}`);
    return false;
  }
}

/** Reads a Parquet shard with DuckDB chunk by chunk (so memory stays at one chunk of images). */
async function readParquet(path, onRow) {
  const kv = await con.runAndReadAll(`select decode(key) as k, decode(value) as v from parquet_kv_metadata(${sql(path)})`);
  const hf = kv.getRowObjectsJson().find((r) => r.k === 'huggingface')?.v;
  const result = await con.stream(
    `select position::bigint, split, width, height, image.bytes, image.path, noise_max_abs_fg, noise_max_abs_bg from read_parquet(${sql(path)})`,
  );
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const [position, split, width, height, bytes, path, fg, bg] of chunk.getRows()) {
      await onRow({ position: Number(position), split, width, height, bytes: bytes?.bytes, path, fg, bg });
    }
  }
  return hf;
}

async function readArrow(path, onRow) {
  const table = arrow.tableFromIPC(await readFile(path));
  const cols = ['position', 'split', 'width', 'height', 'image', 'noise_max_abs_fg', 'noise_max_abs_bg'].map((c) => table.getChild(c));
  for (let i = 0; i < table.numRows; i++) {
    const [position, split, width, height, image, fg, bg] = cols.map((c) => c?.get(i));
    await onRow({ position: Number(position), split, width, height, bytes: image?.bytes, path: image?.path, fg, bg });
  }
  return table.schema.metadata.get('huggingface');
}

const table = [];
const seen = new Map();
let totalRows = 0;
for (const file of dataFiles) {
  const path = join(dir, file);
  const [, split, idx] = NAME_RE.exec(file);
  const stats = await readJson(join(dir, `${file}.stats.json`));
  const row = { shard: file, rows: 0, stats: '-', manifest: '-', images: 'ok', maxFg: 0, maxBg: 0, hf: '-', status: 'ok' };
  const before = problems.length;
  if (stats === undefined) problem(file, 'no stats file: the shard was never committed (crashed run?) and is not part of the output');
  else if (stats.__error) problem(file, `stats file does not parse: ${stats.__error}`);
  else {
    const { size } = await stat(path);
    if (size !== stats.bytes) problem(file, `size ${size} != ${stats.bytes} in stats`);
    else if ((await sha256(path)) !== stats.sha256) problem(file, 'sha256 differs from stats');
  }
  let bad = 0;
  const range = stats?.positions;
  const onRow = async (r) => {
    row.rows++;
    if (r.split !== split) problem(file, `position ${r.position}: split ${r.split} in a ${split} shard`);
    if (range && (r.position < range.start || r.position >= range.end)) problem(file, `position ${r.position} outside [${range.start}, ${range.end})`);
    const key = `${r.split}:${r.position}`;
    if (seen.has(key)) problem(file, `position ${r.position} of ${r.split} also in ${seen.get(key)}`);
    seen.set(key, file);
    if (!r.bytes || !(await decodeCheck(file, r.position, r.bytes, r.width, r.height))) bad++;
    row.maxFg = Math.max(row.maxFg, r.fg);
    row.maxBg = Math.max(row.maxBg, r.bg);
    if (budgetFg !== undefined && r.fg > budgetFg + EPS) problem(file, `position ${r.position}: max |delta| in prompt ${r.fg} > budget ${budgetFg}`);
    if (budgetBg !== undefined && r.bg > budgetBg + EPS) problem(file, `position ${r.position}: max |delta| outside prompt ${r.bg} > budget ${budgetBg}`);
  };
  let hf;
  try {
    hf = file.endsWith('.parquet') ? await readParquet(path, onRow) : await readArrow(path, onRow);
  } catch (err) {
    problem(file, `cannot be read: ${err.message}`);
  }
  row.hf = checkHfMetadata(file, hf);
  row.images = bad === 0 ? 'ok' : `${bad} bad`;
  if (stats && !stats.__error) {
    row.stats = String(stats.rows);
    if (stats.rows !== row.rows) problem(file, `${row.rows} rows in file, ${stats.rows} in stats`);
    if (stats.shardIndex !== Number(idx) || stats.split !== split) problem(file, 'stats name another shard');
  }
  const m = manifestShards.get(file);
  if (m) {
    row.manifest = String(m.rows);
    if (m.rows !== row.rows) problem(file, `${row.rows} rows in file, ${m.rows} in ${m.manifest}`);
    if (stats?.sha256 && m.sha256 !== stats.sha256) problem(file, `sha256 in ${m.manifest} differs from stats`);
  } else if (manifestNames.length > 0) problem(file, 'not listed in any manifest');
  totalRows += row.rows;
  if (problems.length > before) row.status = `${problems.length - before} problem(s)`;
  table.push(row);
}
for (const [name, m] of Object.entries(manifests)) {
  for (const s of m.shards ?? []) if (!dataFiles.includes(s.file)) problem(name, `lists ${s.file}, which is missing`);
}
const merged = manifests['manifest.json'];
if (merged?.totals && merged.totals.rows !== totalRows) problem('manifest.json', `totals.rows ${merged.totals.rows} != ${totalRows} rows in the shards`);

con.closeSync();
db.closeSync();

const cols = ['shard', 'rows', 'stats', 'manifest', 'images', 'maxFg', 'maxBg', 'hf', 'status'];
const cell = (r, c) => (typeof r[c] === 'number' && !Number.isInteger(r[c]) ? r[c].toFixed(3) : String(r[c]));
const widths = cols.map((c) => Math.max(c.length, ...table.map((r) => cell(r, c).length)));
const line = (vals) => vals.map((v, i) => v.padEnd(widths[i])).join('  ');
if (!quiet || problems.length > 0) {
  console.log(line(cols));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of table) console.log(line(cols.map((c) => cell(r, c))));
}
const fmt = (b) => (b === undefined ? 'not checked' : `${b.toFixed(3)}/255`);
const failures = Object.values(manifests).reduce((n, m) => n + (m.failures?.length ?? 0), 0);
console.log(
  `\n${table.length} shards, ${totalRows} rows, ${failures} failed samples listed in manifests; ` +
    `max |delta| fg ${Math.max(0, ...table.map((r) => r.maxFg)).toFixed(3)} (budget ${fmt(budgetFg)}), ` +
    `bg ${Math.max(0, ...table.map((r) => r.maxBg)).toFixed(3)} (budget ${fmt(budgetBg)})`,
);
if (problems.length > 0) {
  console.log(`\n${problems.length} problem(s):`);
  for (const p of problems.slice(0, 200)) console.log(`  - ${p}`);
  if (problems.length > 200) console.log(`  ... and ${problems.length - 200} more`);
  process.exit(1);
}
console.log('all checks passed');
