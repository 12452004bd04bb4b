// The bench end to end on a tiny generated COCO dataset (Roboflow layout, like coco-facades):
// every row must see every image, two workers (pipeline or codec) must split them without loss,
// and a repeated listing must hold each image `repeat` (or `--list-times`) times. Run: node --test tools/bench-throughput/test/
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const here = path.dirname(fileURLToPath(import.meta.url));

async function writeCoco(root, splits) {
  let id = 1;
  for (const [split, n] of Object.entries(splits)) {
    await fs.mkdir(path.join(root, split), { recursive: true });
    const json = { images: [], annotations: [], categories: [{ id: 1, name: 'window' }] };
    for (let i = 0; i < n; i++, id++) {
      const name = `img${id}.jpg`;
      const raw = Buffer.alloc(48 * 32 * 3, 0).map((_, k) => (k * 7 + id * 13) % 256);
      await sharp(raw, { raw: { width: 48, height: 32, channels: 3 } }).jpeg().toFile(path.join(root, split, name));
      json.images.push({ id, file_name: name, width: 48, height: 32 });
      json.annotations.push({ id, image_id: id, category_id: 1, segmentation: [[4, 4, 20, 4, 20, 20, 4, 20]], iscrowd: 0, bbox: [4, 4, 16, 16], area: 256 });
    }
    await fs.writeFile(path.join(root, split, '_annotations.coco.json'), JSON.stringify(json));
  }
}

/** Runs the bench on a fresh tiny dataset; returns its stdout and the results JSON. */
async function runBench(tmp, splits, argv) {
  const data = path.join(tmp, 'coco');
  await writeCoco(data, splits);
  const out = path.join(tmp, 'results');
  const r = spawnSync(process.execPath, [path.join(here, '..', 'run.mjs'), '--data', data, ...argv, '--no-train', '--out', out], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const [file] = await fs.readdir(out);
  return { stdout: r.stdout, result: JSON.parse(await fs.readFile(path.join(out, file), 'utf8')) };
}

test('rows, workers and the repeated listing count every image', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-throughput-test-'));
  try {
    const { stdout, result } = await runBench(tmp, { train: 5, valid: 2 },
      ['--images', '4', '--rows', 'codec,codec-unseg,uniform', '--workers', '1,2', '--shard-size', '2', '--memory', '--repeat', '3']);
    assert.deepEqual(result.rows.map((x) => [x.row, x.workers, x.images]), [['codec', 1, 4], ['codec-unseg', 1, 4], ['uniform', 1, 4], ['uniform', 2, 4]]);
    // Each ratio is to its own limit row: sharp's codecs, and the pipeline's.
    for (const x of result.rows) {
      assert.ok(Math.abs(x.ratioToCodec - x.imagesPerSecond / result.rows[0].imagesPerSecond) < 1e-9);
      assert.ok(Math.abs(x.ratioToOurCodecs - x.imagesPerSecond / result.rows[1].imagesPerSecond) < 1e-9);
    }
    assert.equal(result.settings.codecLimit, 'sharp png level 1');
    for (const x of result.rows) {
      assert.ok(x.imagesPerSecond > 0 && x.peakRssMiB > 0 && x.cpuSeconds > 0);
      assert.ok(x.stagesMs.encode > 0 && x.stagesMs.decode > 0);
    }
    assert.ok(result.rows[2].stagesMs.noise > 0 && result.rows[2].stagesMs.write > 0);
    if (process.platform === 'linux') {
      for (const x of result.rows) {
        const { mainJs, codecThreads, otherThreads } = x.cpuSplit;
        assert.ok(mainJs >= 0 && codecThreads >= 0 && otherThreads >= 0, JSON.stringify(x.cpuSplit));
        // /proc counts whole 10-ms ticks per thread (these runs take a few ticks), process.cpuUsage
        // microseconds: the parts add up to the total within the ticks' rounding.
        assert.ok(Math.abs(mainJs + codecThreads + otherThreads - x.cpuSeconds) < 0.25 * x.workers, JSON.stringify(x));
      }
      assert.match(stdout, /CPU ms\/img: main vips other/);
    }
    // 100 images capped at the 5 of train; all 7 of every split; 7 listed 3 times.
    assert.deepEqual(result.memory.map((x) => x.images), [5, 7, 21]);
    assert.match(stdout, /\(a\) codec limit\s+1\s+4/);
    assert.match(stdout, /\(a'\) our codecs\s+1\s+4/);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});

test('--codec-workers and --list-times: the limit is the fastest codec run, over the listing', async () => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-throughput-test-'));
  try {
    const { result } = await runBench(tmp, { train: 3, valid: 2 },
      ['--images', '2', '--list-times', '3', '--rows', 'codec,uniform', '--codec-workers', '1,2', '--workers', '2', '--shard-size', '1']);
    // The first 2 train images (valid left out) listed 3 times: 6 samples in every row.
    assert.deepEqual(result.rows.map((x) => [x.row, x.workers, x.images]), [['codec', 1, 6], ['codec', 2, 6], ['uniform', 2, 6]]);
    const codec = result.rows.filter((x) => x.row === 'codec');
    const fastest = Math.max(...codec.map((x) => x.imagesPerSecond));
    for (const x of result.rows) assert.ok(Math.abs(x.ratioToCodec - x.imagesPerSecond / fastest) < 1e-9);
    assert.ok(codec.some((x) => x.ratioToCodec === 1));
    assert.match(result.settings.listed, /listed 3 times: 6 samples/);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
