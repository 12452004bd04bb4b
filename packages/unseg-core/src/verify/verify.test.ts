import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runDataset } from '../engine/run.js';
import { tinyReader } from '../engine/test-helpers/tiny-dataset.js';
import { createUniformNoiseSource } from '../noise/baseline.js';
import type { NoiseSource } from '../noise/types.js';
import { formatVerifyReport, verifyShards } from './verify.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-verify-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const protect = async () =>
  runDataset({ reader: await tinyReader({ count: 6 }), outDir: dir, shardSize: 4, noise: createUniformNoiseSource({ seed: 1 }), budget: { epsFg: 8 / 255, epsBg: 2 / 255 } });

describe('verifyShards', () => {
  it('finds nothing wrong in a complete run', async () => {
    await protect();
    const report = await verifyShards({ dir, reader: await tinyReader({ count: 6 }) });
    expect(report.problems).toEqual([]);
    expect(report.imagesChecked).toBe(6);
    expect(report.failedSamples).toBe(0);
    expect(formatVerifyReport(report)).not.toMatch(/failed in the run/);
  });

  it('says how many samples the run failed, which the published copy lacks, though they are no problem of the folder', async () => {
    const reader = () => tinyReader({ count: 6, corrupt: [1], readerErrors: [4] });
    await runDataset({ reader: await reader(), outDir: dir, shardSize: 4, noise: createUniformNoiseSource({ seed: 1 }), budget: { epsFg: 8 / 255, epsBg: 2 / 255 } });
    const report = await verifyShards({ dir, reader: await reader() });
    expect(report.problems).toEqual([]);
    expect(report.failedSamples).toBe(2);
    expect(formatVerifyReport(report)).toMatch(/2 sample\(s\) failed in the run and are not in the published copy \(manifest.json lists each with its reason\)\nno problems found/);
  });

  it('reports a copy in which no image carries any noise (a generator that makes none)', async () => {
    const silent: NoiseSource = {
      name: 'unseg',
      description: 'a generator whose weights went to zero',
      batchSize: 4,
      generate: async (batch) => batch.map((r) => new Float32Array(r.image.width * r.image.height * 3)),
    };
    await runDataset({ reader: await tinyReader({ count: 3 }), outDir: dir, noise: silent, budget: { epsFg: 8 / 255, epsBg: 2 / 255 } });
    const report = await verifyShards({ dir, reader: await tinyReader({ count: 3 }) });
    expect(report.problems.map((p) => p.kind)).toEqual(['NO_NOISE']);
    expect(report.problems[0]!.message).toMatch(/none of the 3 published images differs from its original: the noise source "unseg" added nothing/);
  });

  it('reports a shard the run could not write, and a split left with no shard at all', async () => {
    await protect();
    // What a run whose every shard of the split failed to write leaves: a manifest with lost shards.
    for (const f of await fs.readdir(dir)) if (f.startsWith('train-')) await fs.rm(path.join(dir, f));
    const file = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
    Object.assign(manifest, { shards: [], totals: { ...manifest.totals, rows: 0, shards: 0 } });
    manifest.lostShards = [{ split: 'train', file: 'train-00000.parquet', positions: { start: 0, end: 4 }, code: 'SHARD_WRITE', reason: 'could not write shard train-00000.parquet: ENOSPC' }];
    await fs.writeFile(file, JSON.stringify(manifest));
    const report = await verifyShards({ dir, reader: await tinyReader({ count: 6 }) });
    expect(report.problems.map((p) => [p.kind, p.file])).toEqual([
      ['LOST_SHARD', 'train-00000.parquet'],
      ['NOT_PUBLISHED', dir],
    ]);
    expect(report.problems[0]!.message).toMatch(/could not write this shard \(could not write shard train-00000\.parquet: ENOSPC\)/);
    expect(report.problems[1]!.message).toMatch(/6 of the split's 6 samples are in no shard/);
  });
});
