#!/usr/bin/env node
// The long kill loop: SIGKILLs the built CLI at many different moments of a run on a generated
// COCO dataset, reruns after each kill, and at the end compares the rows (DuckDB) with an
// uninterrupted run: none lost, none duplicated, no unreadable or uncommitted file visible.
//
//   node tools/chaos-kill.mjs [--images 60] [--shard-size 5] [--kills 24] [--seed 1] [--json out.json (default: $TMPDIR/unseg-chaos-kill.json)]
//
// Kill moments: after k published events (k spread over the whole run, so kills land during
// decode, noise, encode, the shard commit and the manifest rewrite), plus a random 0-30 ms.
// After every kill the visible files are checked: each *.parquet must be readable by DuckDB.
// Prints a summary table and writes it as JSON. Exit 1 when any row is lost, duplicated or
// different, or any visible file is corrupt. Build first: npx nx run-many -t build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

import { parseToolArgs } from './lib/args.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.join(here, '../packages/unseg-cli/dist/bin.js');
const sharp = createRequire(path.join(here, '../packages/unseg-core/package.json'))('sharp');

const { values: opt } = parseToolArgs({
  name: 'chaos-kill',
  usage: `
SIGKILLs the built CLI at many moments of a run on a generated COCO dataset, reruns after each
kill, and checks that the rows match an uninterrupted run (exit 1 when they do not).

usage: node tools/chaos-kill.mjs [options]

options:
  --images N       images in the generated dataset [60]
  --shard-size N   the CLI's --shard-size [5]
  --kills N        runs killed before the final, uninterrupted one [24]
  --seed N         seed of the kill moments [1]
  --json FILE      where the summary JSON goes [$TMPDIR/unseg-chaos-kill.json]
  -h, --help       this text`,
  options: {
    images: { type: 'string', default: '60' },
    'shard-size': { type: 'string', default: '5' },
    kills: { type: 'string', default: '24' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string', default: path.join(os.tmpdir(), 'unseg-chaos-kill.json') },
  },
  numbers: {
    images: { integer: true, min: 1 },
    'shard-size': { integer: true, min: 1 },
    kills: { integer: true, min: 1 },
    seed: { integer: true, min: 0 },
  },
});
const IMAGES = opt.images;
const SHARD = opt['shard-size'];
const KILLS = opt.kills;
let seed = opt.seed;
const jsonOut = opt.json;
if (!existsSync(BIN)) {
  console.error(`chaos-kill: ${BIN} is missing; build first (npx nx run-many -t build)`);
  process.exit(2);
}
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

async function makeDataset(root) {
  const W = 48;
  const H = 32;
  await fs.mkdir(path.join(root, 'annotations'), { recursive: true });
  await fs.mkdir(path.join(root, 'train'), { recursive: true });
  const json = { images: [], annotations: [], categories: [{ id: 1, name: 'window' }, { id: 2, name: 'door' }] };
  for (let i = 1; i <= IMAGES; i++) {
    const d = Buffer.alloc(W * H * 3);
    for (let k = 0; k < d.length; k++) d[k] = (k * 7 + i * 31 + ((k / 3) | 0) * i) % 256;
    const name = `img${String(i).padStart(4, '0')}.png`;
    await fs.writeFile(path.join(root, 'train', name), await sharp(d, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer());
    json.images.push({ id: i, file_name: name, width: W, height: H });
    const x = i % 20;
    json.annotations.push({ id: 2 * i, image_id: i, category_id: 1, segmentation: [[x, 2, x + 20, 2, x + 20, 20, x, 20]], iscrowd: 0, bbox: [x, 2, 20, 18], area: 360 });
    json.annotations.push({ id: 2 * i + 1, image_id: i, category_id: 2, segmentation: [[30, 10, 46, 10, 46, 30, 30, 30]], iscrowd: 0, bbox: [30, 10, 16, 20], area: 320 });
  }
  await fs.writeFile(path.join(root, 'annotations', 'instances_train.json'), JSON.stringify(json));
}

function run(root, out, onEvent) {
  const proc = spawn(
    process.execPath,
    [BIN, 'run', 'coco', '--in', root, '--out', out, '--noise', 'uniform', '--progress', 'json', '--shard-size', String(SHARD)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        onEvent?.(JSON.parse(line), proc);
      } catch {
        // not JSON
      }
    }
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
async function rows(glob) {
  const r = await con.runAndReadAll(
    `select split, position::integer as position, id, md5(image.bytes) as md5 from read_parquet('${glob}') order by split, position`,
  );
  return r.getRowObjectsJson();
}
async function corruptVisible(dir) {
  const bad = [];
  for (const f of (await fs.readdir(dir).catch(() => [])).filter((n) => n.endsWith('.parquet'))) {
    try {
      await rows(path.join(dir, f));
    } catch (err) {
      bad.push(`${f}: ${err.message.split('\n')[0]}`);
    }
  }
  return bad;
}

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-chaos-'));
const t0 = Date.now();
try {
  const root = path.join(tmp, 'coco');
  await makeDataset(root);
  const reference = path.join(tmp, 'reference');
  const ref = await run(root, reference);
  if (ref.code !== 0) throw new Error(`reference run failed (${ref.code}): ${ref.stderr}`);
  const expected = await rows(`${reference}/*.parquet`);

  const out = path.join(tmp, 'chaos');
  let kills = 0;
  let runs = 0;
  let completedEarly = 0;
  const killPoints = [];
  const corrupt = [];
  let uncommittedSeen = 0;
  for (let k = 0; k < KILLS; k++) {
    // Spread over the whole run: the resumed run publishes only what is left, so aim at a
    // fraction of what remains.
    const done = new Set((await fs.readdir(out).catch(() => [])).filter((f) => f.endsWith('.stats.json'))).size * SHARD;
    const left = Math.max(1, IMAGES - done);
    const after = Math.floor(rand() * left);
    const delay = Math.floor(rand() * 30);
    let published = 0;
    let killed = false;
    const result = await run(root, out, (e, proc) => {
      if (e.event === 'published') published++;
      if (!killed && published >= after) {
        killed = true;
        setTimeout(() => proc.kill('SIGKILL'), delay);
      }
    });
    runs++;
    if (result.signal === 'SIGKILL') {
      kills++;
      killPoints.push({ after, delay, published });
    } else {
      completedEarly++;
      // The run finished before the kill: start again from an empty folder so kills keep
      // landing in the middle of runs.
      await fs.rm(out, { recursive: true, force: true });
    }
    const names = await fs.readdir(out).catch(() => []);
    uncommittedSeen += names.filter((f) => f.endsWith('.parquet') && !names.includes(`${f}.stats.json`)).length;
    corrupt.push(...(await corruptVisible(out)));
  }
  const last = await run(root, out);
  runs++;
  if (last.code !== 0) throw new Error(`final run failed (${last.code}): ${last.stderr}`);
  const found = await rows(`${out}/*.parquet`);
  const key = (r) => `${r.split}:${r.position}`;
  const counts = new Map();
  for (const r of found) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  const duplicates = [...counts.values()].filter((c) => c > 1).length;
  const foundByKey = new Map(found.map((r) => [key(r), r]));
  const lost = expected.filter((r) => !foundByKey.has(key(r))).length;
  const different = expected.filter((r) => foundByKey.has(key(r)) && JSON.stringify(foundByKey.get(key(r))) !== JSON.stringify(r)).length;
  const leftovers = (await fs.readdir(out)).filter((f) => f.endsWith('.tmp') || (f.endsWith('.parquet') && !existsSync(path.join(out, `${f}.stats.json`))));
  corrupt.push(...(await corruptVisible(out)));
  const summary = {
    images: IMAGES,
    shardSize: SHARD,
    runs,
    kills,
    completedBeforeKill: completedEarly,
    rowsExpected: expected.length,
    rowsFound: found.length,
    lost,
    duplicates,
    different,
    corruptFiles: corrupt.length,
    uncommittedShardsSeenAfterKills: uncommittedSeen,
    leftoversAfterFinalRun: leftovers.length,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    killPoints,
    corrupt,
  };
  await fs.writeFile(jsonOut, `${JSON.stringify(summary, null, 2)}\n`);
  const cols = ['kills', 'rowsExpected', 'rowsFound', 'lost', 'duplicates', 'different', 'corruptFiles', 'leftoversAfterFinalRun'];
  const w = cols.map((c) => Math.max(c.length, String(summary[c]).length));
  console.log(cols.map((c, i) => c.padEnd(w[i])).join('  '));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  console.log(cols.map((c, i) => String(summary[c]).padEnd(w[i])).join('  '));
  console.log(
    `\n${IMAGES} images, shard size ${SHARD}, ${runs} runs, ${kills} SIGKILLs (after ${killPoints.map((p) => p.published).join(', ')} published events), ` +
      `${completedEarly} runs finished before their kill; uncommitted shards seen after kills: ${uncommittedSeen}; ${summary.seconds} s; JSON: ${jsonOut}`,
  );
  const ok = lost === 0 && duplicates === 0 && different === 0 && corrupt.length === 0 && leftovers.length === 0 && found.length === expected.length;
  console.log(ok ? 'OK: same rows as the uninterrupted run' : 'FAILED');
  process.exitCode = ok ? 0 : 1;
} finally {
  con.closeSync();
  db.closeSync();
  await fs.rm(tmp, { recursive: true, force: true });
}
