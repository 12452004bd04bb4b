// Reads back what the pipeline published (Parquet shards), rasterises semantic labels from the
// per-object RLEs, applies a defense, and resizes to the benchmark's base resolution.
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { repoRoot, coreRequire } from './tf.mjs';
import { paintLabels, resizeLabelsNearest } from './labels.mjs';

const sharp = (await import(coreRequire.resolve('sharp'))).default;
// @duckdb/node-api is a root dev dependency; @unseg/core is used as built (npm run build).
const duckdb = await import('@duckdb/node-api');
const core = await import(path.join(repoRoot, 'packages/unseg-core/dist/index.js'));

export function listShards(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.parquet')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function toBytes(v) {
  if (v instanceof Uint8Array) return v;
  if (v && v.bytes instanceof Uint8Array) return v.bytes;
  throw new TypeError(`expected image bytes, got ${typeof v}`);
}

/** Rows of one shard file as plain JS: { id, width, height, png, objects: [{category_id, category, rle}] }. */
export async function readShard(file) {
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const sql = `SELECT CAST(id AS VARCHAR) AS id, width, height, image.bytes AS png,
      [ {'category_id': o.category_id, 'category': o.category, 'rle': o.rle} FOR o IN objects ] AS objects
      FROM read_parquet('${file.replaceAll("'", "''")}')`;
    const reader = await conn.runAndReadAll(sql);
    const rows = [];
    for (const r of reader.getRows()) {
      const [id, width, height, png, objects] = r;
      rows.push({
        id: String(id),
        width: Number(width),
        height: Number(height),
        png: toBytes(png),
        objects: (objects?.items ?? []).map((s) => {
          const e = s.entries;
          return { category_id: Number(e.category_id), category: String(e.category), rle: String(e.rle) };
        }),
      });
    }
    return rows;
  } finally {
    conn.closeSync?.();
    instance.closeSync?.();
  }
}

/** Defenses a user might apply to the published images before training. */
export const DEFENSES = {
  // JPEG re-encoding at quality 75, at the published resolution.
  jpeg75: async (img) => sharp(await img.jpeg({ quality: 75 }).toBuffer()),
  // Luma, copied back to 3 channels so the same nets train on it.
  gray: async (img) => sharp(await img.grayscale().toColourspace('srgb').toBuffer()),
};
// Applied after resizing to the training resolution: "sigma 1 px at the training resolution".
export const POST_RESIZE_DEFENSES = new Set(['blur1']);

/**
 * One sample at the base resolution (long side `size`): 8-bit HWC image + label map.
 * `classOf` maps category ids to 1..K labels.
 */
export async function prepareSample(row, { size, defense, classOf }) {
  let img = sharp(row.png);
  if (defense && DEFENSES[defense]) img = await DEFENSES[defense](img);
  else if (defense && !POST_RESIZE_DEFENSES.has(defense)) throw new Error(`unknown defense ${defense}`);
  const s = size / Math.max(row.width, row.height);
  const w = Math.max(1, Math.round(row.width * s));
  const h = Math.max(1, Math.round(row.height * s));
  // Antialiased downscale (sharp's default lanczos3), as image libraries do when users resize.
  let pipeline = img.removeAlpha().toColourspace('srgb').resize(w, h, { fit: 'fill' });
  let { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${row.id}: decoded ${info.channels} channels`);
  if (defense === 'blur1') {
    ({ data, info } = await sharp(data, { raw: { width: w, height: h, channels: 3 } })
      .blur(1)
      .raw()
      .toBuffer({ resolveWithObject: true }));
  }
  const objects = row.objects.map((o) => ({
    category_id: o.category_id,
    rle: core.rleFromString(o.rle, row.height, row.width),
  }));
  const full = paintLabels(objects, row.width, row.height, classOf);
  const labels = resizeLabelsNearest(full, row.width, row.height, w, h);
  return { id: row.id, width: w, height: h, image: new Uint8Array(data.buffer, data.byteOffset, data.length), labels };
}

/** Category ids and names present in the shards (for the class map), without decoding images. */
export async function readCategories(files) {
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
    const reader = await conn.runAndReadAll(
      `SELECT DISTINCT o.category_id AS id, o.category AS name FROM (SELECT UNNEST(objects) AS o FROM read_parquet([${list}])) ORDER BY id`,
    );
    return reader.getRows().map(([id, name]) => ({ id: Number(id), name: String(name) }));
  } finally {
    conn.closeSync?.();
    instance.closeSync?.();
  }
}

/**
 * Labels for the category ids that occur in the given clean shard folders, in id order, as
 * 1..K (0 = background). coco-facades' placeholder category 0 never occurs, so it gets no label.
 * `classKey` identifies the map in prepared-sample caches.
 */
export async function classMap(dirs) {
  const cats = await readCategories(dirs.flatMap((d) => listShards(d)));
  const classIndex = new Map(cats.map((c, i) => [c.id, i + 1]));
  const classNames = ['background', ...cats.map((c) => c.name)];
  return { classNames, classes: classNames.length, classOf: (id) => classIndex.get(id), classKey: cats.map((c) => c.id).join(',') };
}

/**
 * All samples of a shard folder at the base resolution. Decoding 1024-px PNGs is most of a
 * row's load time, so the prepared set is cached beside the shards, keyed by the settings and
 * the shards' sizes and mtimes (a republished folder is never read from a stale cache).
 */
export async function loadSplit(dir, { size, defense, classOf, classKey = '', log = () => {} }) {
  const files = listShards(dir);
  if (!files.length) throw new Error(`no .parquet shards under ${dir}`);
  const stamp = files.map((f) => {
    const st = fs.statSync(f);
    return `${path.basename(f)}:${st.size}:${st.mtimeMs}`;
  });
  const key = JSON.stringify({ v: 1, size, defense: defense ?? null, classKey, stamp });
  const cacheFile = path.join(dir, `.bench-cache-${size}-${defense ?? 'none'}.v8`);
  if (fs.existsSync(cacheFile)) {
    const cached = v8.deserialize(fs.readFileSync(cacheFile));
    if (cached.key === key) {
      log(`read ${cached.samples.length} prepared samples from ${path.basename(cacheFile)}`);
      return cached.samples;
    }
  }
  const out = [];
  for (const f of files) {
    const rows = await readShard(f);
    for (const row of rows) out.push(await prepareSample(row, { size, defense, classOf }));
    log(`read ${rows.length} samples from ${path.relative(dir, f)}`);
  }
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  fs.writeFileSync(cacheFile, v8.serialize({ key, samples: out }));
  return out;
}
