import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createUniformNoiseSource } from '../noise/baseline.js';
import { runDataset, type RunDatasetOptions } from './run.js';
import type { NoiseSource } from '../noise/types.js';
import type { Sample } from '../plugin/types.js';
import { tinyReader } from './test-helpers/tiny-dataset.js';

const budget = { epsFg: 8 / 255, epsBg: 2 / 255 };
let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-run-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function rows(outDir: string): Promise<{ position: number; id: string; md5: string }[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(
    `select position::integer as position, id, md5(image.bytes) as md5 from read_parquet('${outDir}/*.parquet') order by position`,
  );
  return r.getRowObjectsJson() as unknown as { position: number; id: string; md5: string }[];
}

async function options(count: number, extra: Partial<RunDatasetOptions> = {}): Promise<RunDatasetOptions> {
  return { reader: await tinyReader({ count, corrupt: [5] }), outDir: dir, shardSize: 4, noise: createUniformNoiseSource({ seed: 3 }), budget, ...extra };
}

describe('runDataset', () => {
  it('writes shards by position range, counts failures, and reports them in the manifest', async () => {
    const summary = await runDataset(await options(10));
    expect(summary).toMatchObject({ published: 9, failed: 1, skipped: 0, interrupted: false });
    expect(summary.failures[0]).toMatchObject({ position: 5, file: 'images/img005.png', code: 'IMAGE_INVALID' });
    const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.parquet')).sort();
    expect(files).toEqual(['train-00000.parquet', 'train-00001.parquet', 'train-00002.parquet']);
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.totals).toMatchObject({ rows: 9, failures: 1, shards: 3 });
    expect(manifest.failures[0].reason).toMatch(/cannot decode image/);
    expect((await rows(dir)).map((r) => r.position)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
  });

  it("removes the manifest temp file a killed run left, and not another worker's", async () => {
    // What a SIGKILL during the manifest's atomic rewrite leaves behind.
    await fs.writeFile(path.join(dir, '.manifest.json.4242-abcd1234.tmp'), '{"half": ');
    await fs.writeFile(path.join(dir, '.manifest-w1of2.json.4243-abcd1234.tmp'), '{"half": ');
    await runDataset(await options(4));
    const left = (await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'));
    expect(left).toEqual(['.manifest-w1of2.json.4243-abcd1234.tmp']);
  });

  it('a manifest that cannot be written fails the run, not its shards; a rerun writes it', async () => {
    // A directory in the manifest's place makes every rewrite fail, as a full disk would.
    await fs.mkdir(path.join(dir, 'manifest.json', 'blocker'), { recursive: true });
    const first = await runDataset(await options(10));
    expect(first).toMatchObject({ published: 9, failed: 1 });
    expect(first.failures.at(-1)).toMatchObject({ code: 'MANIFEST_WRITE', file: path.join(dir, 'manifest.json') });
    expect(first.failures.at(-1)!.reason).toMatch(/committed shards are intact/);
    expect((await rows(dir)).map((r) => r.position)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
    await fs.rm(path.join(dir, 'manifest.json'), { recursive: true });
    const rerun = await runDataset(await options(10));
    // Position 5 failed in the first run: still unpublished, the rerun says so.
    expect(rerun).toMatchObject({ published: 0, skipped: 10, failed: 0, failedBefore: 1 });
    expect(rerun.failures.map((f) => f.code)).not.toContain('MANIFEST_WRITE');
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.totals).toMatchObject({ rows: 9, failures: 1, shards: 3 });
  });

  it('stops at a shard boundary when interrupted, and a rerun resumes to the same rows', async () => {
    const reference = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-ref-'));
    await runDataset({ ...(await options(10)), outDir: reference });
    const expected = await rows(reference);

    const controller = new AbortController();
    const first = await runDataset({
      ...(await options(10)),
      signal: controller.signal,
      listener: { onPublished: (r) => r.position === 1 && controller.abort() },
    });
    expect(first.interrupted).toBe(true);
    // Only the shard in flight (0) is finished, although the pipeline had read samples of shard 1
    // ahead (concurrency 4, batches of 8).
    const shards = (await fs.readdir(dir)).filter((f) => f.endsWith('.parquet')).length;
    expect(shards).toBe(1);
    expect(await rows(dir)).toEqual(expected.filter((r) => r.position < shards * 4));

    const reader = await tinyReader({ count: 10, corrupt: [5] });
    const second = await runDataset({ ...(await options(10)), reader });
    expect(second.skipped).toBe(shards * 4);
    expect(first.published + second.published).toBe(9);
    expect(await rows(dir)).toEqual(expected);
    await fs.rm(reference, { recursive: true, force: true });
  });

  it('finishes only the shard in flight when the signal comes after every sample was read', async () => {
    // Four one-sample shards, all read ahead before the first is written: without the boundary
    // check the run would publish all four and not report the interrupt.
    const controller = new AbortController();
    const summary = await runDataset({
      ...(await options(4)),
      reader: await tinyReader({ count: 4 }),
      shardSize: 1,
      signal: controller.signal,
      listener: { onPublished: (r) => r.position === 0 && controller.abort() },
    });
    expect(summary).toMatchObject({ interrupted: true, published: 1 });
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.parquet'))).toEqual(['train-00000.parquet']);
  });

  it('stops on the signal without waiting for a reader that is stuck, once every shard handed over is committed', async () => {
    // One one-sample shard, then the reader never yields again (a plugin waiting on nothing).
    const tiny = await tinyReader({ count: 1 });
    const stuck = {
      ...tiny,
      async *samples(split: string) {
        yield* tiny.samples(split);
        await new Promise(() => undefined);
      },
    };
    const controller = new AbortController();
    const summary = await runDataset({
      ...(await options(1)),
      reader: stuck,
      shardSize: 1,
      signal: controller.signal,
      listener: { onShardWritten: () => setTimeout(() => controller.abort(), 50) },
    });
    expect(summary).toMatchObject({ interrupted: true, published: 1 });
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.parquet'))).toEqual(['train-00000.parquet']);
  });

  it('refuses to resume when the dataset changed under shards already written, and writes nothing more', async () => {
    const controller = new AbortController();
    const first = await runDataset({ ...(await options(10)), signal: controller.signal, listener: { onPublished: (r) => r.position === 6 && controller.abort() } });
    expect(first.interrupted).toBe(true);
    const before = (await fs.readdir(dir)).sort();
    expect(before).toContain('train-00001.parquet');
    // Position 6 relabelled: shard 1 ([4, 8)) was made from other data.
    await expect(runDataset({ ...(await options(10)), reader: await tinyReader({ count: 10, corrupt: [5], relabel: [6] }) })).rejects.toThrow(
      /changed since train-00001\.parquet was written .*positions \[4, 8\) differ now/,
    );
    expect((await fs.readdir(dir)).sort()).toEqual(before);
    // A change in a shard not yet written is no conflict: the rerun publishes the data as it is now.
    const resumed = await runDataset({ ...(await options(10)), reader: await tinyReader({ count: 10, corrupt: [5], relabel: [9] }) });
    expect(resumed.skipped).toBe(8);
  });

  it('lets n workers each take whole shards; their union equals a single run', async () => {
    const reference = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-ref-'));
    await runDataset({ ...(await options(13)), outDir: reference });
    for (let index = 0; index < 3; index++) {
      await runDataset({ ...(await options(13)), worker: { index, count: 3 } });
    }
    expect(await rows(dir)).toEqual(await rows(reference));
    await fs.rm(reference, { recursive: true, force: true });
  });

  it('refuses to resume a --limit run without the same limit', async () => {
    await runDataset(await options(10, { limit: 3 }));
    await expect(runDataset(await options(10))).rejects.toThrow(/--limit was 3, now null.*new --out/);
  });

  it('refuses to resume with other noise, budgets or codec, naming what changed, and leaves the shards alone', async () => {
    await runDataset(await options(6));
    const before = await rows(dir);
    await expect(runDataset(await options(6, { budget: { epsFg: 4 / 255, epsBg: 2 / 255 } }))).rejects.toThrow(
      /--eps-fg was "8\/255", now "4\/255".*mix two protections/,
    );
    await expect(runDataset(await options(6, { noise: createUniformNoiseSource({ seed: 4 }) }))).rejects.toThrow(/noise settings was \{"seed":3\}, now \{"seed":4\}/);
    await expect(runDataset(await options(6, { encode: { format: 'jpeg', quality: 95 } }))).rejects.toThrow(
      /--encode was \{"format":"png"\}, now \{"format":"jpeg","quality":95\}/,
    );
    expect(await rows(dir)).toEqual(before);
    // PNG is lossless: another zlib level publishes the same pixels, so it resumes.
    expect(await runDataset(await options(6, { encode: { format: 'png', compressionLevel: 1 } }))).toMatchObject({ published: 0, skipped: 6 });
    // The same settings resume (nothing left to do).
    expect(await runDataset(await options(6))).toMatchObject({ published: 0, skipped: 6 });
  });

  it('resumes a JPEG run whether the default quality was named or not, and refuses another quality', async () => {
    await runDataset(await options(6, { encode: { format: 'jpeg' } }));
    expect(await runDataset(await options(6, { encode: { format: 'jpeg', quality: 95 } }))).toMatchObject({ published: 0, skipped: 6 });
    await expect(runDataset(await options(6, { encode: { format: 'jpeg', quality: 90 } }))).rejects.toThrow(
      /--encode was \{"format":"jpeg","quality":95\}, now \{"format":"jpeg","quality":90\}/,
    );
  });

  it('times the shard writer once per published row', async () => {
    const stages: string[] = [];
    await runDataset(await options(10, { listener: { onStage: (i) => stages.push(i.stage) } }));
    expect(stages.filter((s) => s === 'write')).toHaveLength(9);
    expect(stages.filter((s) => s === 'encode')).toHaveLength(9);
  });

  it('refuses a --prompt category the dataset does not have, before writing anything', async () => {
    await expect(runDataset(await options(2, { prompt: { kind: 'categories', categories: ['thing', 'thnig'] } }))).rejects.toThrow(
      /--prompt names "thnig", which the dataset \/virtual has no category of; it has: thing, crowd-thing, other/,
    );
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.parquet'))).toEqual([]);
    // Names and ids both select.
    const summary = await runDataset(await options(2, { prompt: { kind: 'categories', categories: ['thing', '2'] } }));
    expect(summary.published).toBe(2);
  });

  it.each(['parquet', 'arrow'] as const)('a malformed sample fails alone, named, and the rest of its shard is published (%s)', async (format) => {
    const tamper = new Map<number, (s: Sample) => unknown>([
      [1, (s) => ({ ...s, id: 12345 })],
      [2, (s) => ({ ...s, objects: [{ ...s.objects[0], isCrowd: undefined }] })],
      [6, (s) => ({ ...s, id: 'img004' })],
    ]);
    const summary = await runDataset({ ...(await options(8)), format, reader: await tinyReader({ count: 8, tamper }), runInfo: { plugin: 'tiny' } });
    expect(summary).toMatchObject({ published: 5, failed: 3 });
    expect(summary.failures.map((f) => [f.position, f.code, f.file])).toEqual([
      [1, 'SAMPLE_MALFORMED', 'plugin "tiny"'],
      [2, 'SAMPLE_MALFORMED', 'plugin "tiny"'],
      [6, 'DUPLICATE_SAMPLE_ID', 'plugin "tiny"'],
    ]);
    expect(summary.failures[0]!.reason).toMatch(/id must be a non-empty string, got number 12345/);
    expect(summary.failures[1]!.reason).toMatch(/object img002-a: isCrowd must be true or false, got undefined/);
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.totals).toMatchObject({ rows: 5, failures: 3, shards: 2 });
  });

  it('a shard that cannot be written is counted as failed, listed in the manifest, and written by a rerun', async () => {
    // A folder put in the place of shard 1's stats file once shard 0 is written makes shard 1's
    // commit fail, as a full disk would.
    const blocker = path.join(dir, 'train-00001.parquet.stats.json');
    const block = (i: { file: string }) => {
      if (i.file === 'train-00000.parquet') mkdirSync(path.join(blocker, 'x'), { recursive: true });
    };
    const first = await runDataset(await options(10, { listener: { onShardWritten: block } }));
    // Shard 1 held positions 4..7, 5 being the corrupt image (recorded failed, in no shard now).
    expect(first).toMatchObject({ published: 6, failed: 4 });
    expect(first.failures.map((f) => [f.position, f.code])).toEqual([
      [5, 'IMAGE_INVALID'],
      [4, 'SHARD_WRITE'],
    ]);
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.lostShards).toEqual([
      expect.objectContaining({ split: 'train', file: 'train-00001.parquet', positions: { start: 4, end: 8 }, code: 'SHARD_WRITE' }),
    ]);
    await fs.rm(blocker, { recursive: true });
    const rerun = await runDataset(await options(10));
    expect(rerun).toMatchObject({ published: 3, failed: 1, skipped: 6 });
    const after = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(after.lostShards).toEqual([]);
    expect(after.totals).toMatchObject({ rows: 9, failures: 1, shards: 3 });
  });

  it('publishes every sample under its own file name: other scripts kept, clashes given the id', async () => {
    const named = (name: string) => (s: Sample) => ({ ...s, image: { ...s.image, name } });
    const tamper = new Map<number, (s: Sample) => unknown>([
      [0, named('images/日本.png')],
      [1, named('images/中国.png')],
      [2, named('images/x.jpg')],
      [3, named('images/x.png')],
      [4, named('images/x.gif')],
      [5, named('images/x y.png')],
      [6, named('images/x_y.png')],
    ]);
    await runDataset({ ...(await options(7)), reader: await tinyReader({ count: 7, tamper }), shardSize: 2 });
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const r = await c.runAndReadAll(`select image.path as path from read_parquet('${dir}/*.parquet') order by position`);
    expect((r.getRowObjectsJson() as { path: string }[]).map((x) => x.path)).toEqual([
      'images/日本.png',
      'images/中国.png',
      'images/x.png',
      'images/x~img003.png',
      'images/x~img004.png',
      'images/x_y.png',
      'images/x_y~img006.png',
    ]);
  });

  it("names a sample the same with any number of workers, also when another sample's annotation fails", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const tamper = new Map<number, (s: Sample) => unknown>([
      [0, (s) => ({ ...s, image: { ...s.image, name: 'images/x.jpg' }, objects: [{ ...s.objects[0], annotation: cyclic }] })],
      [1, (s) => ({ ...s, image: { ...s.image, name: 'images/x.png' } })],
    ]);
    const paths = async (outDir: string) => {
      const db = await DuckDBInstance.create(':memory:');
      const r = await (await db.connect()).runAndReadAll(`select position::integer as p, image.path as path from read_parquet('${outDir}/*.parquet') order by position`);
      return r.getRowObjectsJson();
    };
    const single = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-names-'));
    await runDataset({ ...(await options(4)), reader: await tinyReader({ count: 4, tamper }), shardSize: 1, outDir: single });
    for (const index of [0, 1]) {
      await runDataset({ ...(await options(4)), reader: await tinyReader({ count: 4, tamper }), shardSize: 1, worker: { index, count: 2 } });
    }
    expect(await paths(dir)).toEqual(await paths(single));
    expect((await paths(single))[0]).toEqual({ p: 1, path: 'images/x~img001.png' });
    await fs.rm(single, { recursive: true, force: true });
  });

  it('an image the noise source fails on fails alone; the rest of its batch is published', async () => {
    const uniform = createUniformNoiseSource({ seed: 3 });
    const picky: NoiseSource = {
      ...uniform,
      name: 'picky',
      generate: async (batch) => {
        if (batch.some((r) => r.id === 'img002')) throw new RangeError('memory access out of bounds');
        return uniform.generate(batch);
      },
    };
    const summary = await runDataset({ ...(await options(6)), reader: await tinyReader({ count: 6 }), noise: picky });
    expect(summary).toMatchObject({ published: 5, failed: 1 });
    expect(summary.failures[0]).toMatchObject({ position: 2, code: 'NOISE_FAILED' });
    expect(summary.failures[0]!.reason).toMatch(/noise source picky failed on this image \(24x16\): memory access out of bounds/);
  });

  it('refuses a split the dataset does not have, leaving no output folder behind', async () => {
    const outDir = path.join(dir, 'never-made');
    await expect(runDataset(await options(2, { splits: ['valid'], outDir }))).rejects.toThrow(/split "valid" not found/);
    await expect(fs.stat(outDir)).rejects.toThrow(/ENOENT/);
  });
});
