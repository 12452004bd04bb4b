import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import { nodeShardFs, type ShardFs } from './fs.js';
import { acquireOutputLock, lockFileName } from './lock.js';
import { mergeManifests, writeManifest } from './manifest.js';
import { parseShardName, shardFileName } from './naming.js';
import { findCompletedShards } from './stats.js';
import { readShardSummary } from './summary.js';
import { feed, makeRecord, tempDir } from './test-helpers/records.js';
import { ShardWriteError, ShardWriter } from './writer.js';

const range = (a: number, b: number): number[] => [...Array(b - a).keys()].map((i) => i + a);
const visible = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir();
  try {
    await fn(dir);
  } finally {
    await cleanup();
  }
}

describe('shard naming and position ranges', () => {
  test('shard k covers [k*N, (k+1)*N); failures shorten a shard but keep its identity', () =>
    withDir(async (dir) => {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 4 });
      // Positions 0..9; 5, 6 failed; 11 is the last one (8..11 shard has 8, 9, 11).
      await feed(w, [...range(0, 10), 11], new Set([5, 6]));
      const stats = await w.finish();
      expect(stats.map((s) => [s.file, s.positions.start, s.positions.end, s.rows, s.failures.map((f) => f.position)])).toEqual([
        ['train-00000.parquet', 0, 4, 4, []],
        ['train-00001.parquet', 4, 8, 2, [5, 6]],
        ['train-00002.parquet', 8, 12, 3, []],
      ]);
      expect(await visible(dir)).toEqual([
        'train-00000.parquet',
        'train-00000.parquet.stats.json',
        'train-00001.parquet',
        'train-00001.parquet.stats.json',
        'train-00002.parquet',
        'train-00002.parquet.stats.json',
      ]);
      const f = stats[1]!.failures[0]!;
      expect([f.file, f.code, f.reason]).toEqual(['images/train/img-5.jpg', 'IMAGE_CORRUPT', 'truncated JPEG']);
    }));

  test('workers put their index in the name and never collide', () => {
    expect(shardFileName('train', 3, 'parquet', { index: 1, count: 4 })).toBe('train-00003-w1of4.parquet');
    expect(shardFileName('val', 123456, 'arrow')).toBe('val-123456.arrow');
    expect(parseShardName('my-split-00012-w2of3.arrow.stats.json')).toEqual({
      split: 'my-split',
      index: 12,
      worker: { index: 2, count: 3 },
      format: 'arrow',
      isStats: true,
      dataFile: 'my-split-00012-w2of3.arrow',
    });
    expect(parseShardName('manifest.json')).toBeUndefined();
  });

  test('out-of-order positions, a foreign split and unsafe split names are refused', () =>
    withDir(async (dir) => {
      await expect(ShardWriter.open({ outDir: dir, split: '../etc', shardSize: 4 })).rejects.toBeInstanceOf(ConfigError);
      await expect(ShardWriter.open({ outDir: dir, split: 'train', shardSize: 0 })).rejects.toBeInstanceOf(ConfigError);
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 4 });
      await w.write(await makeRecord(2));
      await expect(w.write(await makeRecord(2))).rejects.toThrow(/increasing positions/);
      await expect(w.write(await makeRecord(3, 'val'))).rejects.toThrow(/split "val"/);
      await w.abort();
    }));
});

describe('resume', () => {
  test('a rerun skips complete shards and rewrites only the rest', () =>
    withDir(async (dir) => {
      const first = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 3 });
      await feed(first, range(0, 7), new Set([1]));
      // Killed while shard 2 (positions 6..8) is open: shards 0 and 1 are committed.
      await first.abort();
      expect(await visible(dir)).toEqual(['train-00000.parquet', 'train-00000.parquet.stats.json', 'train-00001.parquet', 'train-00001.parquet.stats.json']);
      const before = await readFile(`${dir}/train-00000.parquet`);

      const scan = await findCompletedShards({ outDir: dir, split: 'train', shardSize: 3, format: 'parquet', fs: nodeShardFs });
      expect([...scan.completed.keys()].sort()).toEqual([0, 1]);

      const second = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 3 });
      expect(range(0, 9).filter((p) => second.isDone(p))).toEqual(range(0, 6));
      const written: number[] = [];
      const spy = { ...second, isDone: (p: number) => second.isDone(p), write: async (r: Parameters<ShardWriter['write']>[0]) => { written.push(r.position); await second.write(r); }, fail: (f: Parameters<ShardWriter['fail']>[0]) => second.fail(f) };
      await feed(spy, range(0, 9), new Set([1]));
      const stats = await second.finish();
      expect(written).toEqual([6, 7, 8]);
      expect(stats.map((s) => s.shardIndex)).toEqual([2]);
      expect(await readFile(`${dir}/train-00000.parquet`)).toEqual(before);
      // Writing a position of a complete shard is a bug in the caller, not a silent duplicate.
      const third = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 3 });
      await expect(third.write(await makeRecord(0))).rejects.toThrow(/already complete/);
    }));

  test('a data file without stats, or with a wrong checksum, is not complete and is removed', () =>
    withDir(async (dir) => {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2 });
      await feed(w, range(0, 6));
      await w.finish();
      // Crash between the data rename and the stats write of shard 1.
      await nodeShardFs.remove(`${dir}/train-00001.parquet.stats.json`);
      // Shard 2's data damaged after commit (same size, one byte changed).
      const data = await readFile(`${dir}/train-00002.parquet`);
      data[10] = data[10]! ^ 0xff;
      await writeFile(`${dir}/train-00002.parquet`, data);

      const scan = await findCompletedShards({ outDir: dir, split: 'train', shardSize: 2, format: 'parquet', fs: nodeShardFs });
      expect([...scan.completed.keys()]).toEqual([0]);
      expect([...scan.uncommitted].sort()).toEqual(['train-00001.parquet', 'train-00002.parquet']);
      // A size-only check is cheaper and misses the flipped byte, as documented.
      const quick = await findCompletedShards({ outDir: dir, split: 'train', shardSize: 2, format: 'parquet', fs: nodeShardFs, verify: 'size' });
      expect([...quick.completed.keys()].sort()).toEqual([0, 2]);

      const again = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2 });
      expect(await visible(dir)).toEqual(['train-00000.parquet', 'train-00000.parquet.stats.json']);
      await feed(again, range(0, 6));
      expect((await again.finish()).map((s) => s.shardIndex)).toEqual([1, 2]);
    }));

  test('resuming with another shard size is refused', () =>
    withDir(async (dir) => {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2 });
      await feed(w, range(0, 2));
      await w.finish();
      await expect(ShardWriter.open({ outDir: dir, split: 'train', shardSize: 3 })).rejects.toThrow(/--shard-size 2/);
    }));

  test('a process killed mid-shard leaves only a hidden temp file, removed on rerun', () =>
    withDir(async (dir) => {
      // The writer is dropped mid-shard, as under kill -9: shard 1 has data in its temp file
      // (rowGroupRows: 1 sends every row to disk at once) and was never renamed.
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2, rowGroupRows: 1 });
      await feed(w, range(0, 3));
      const hidden = (await readdir(dir)).filter((f) => f.startsWith('.'));
      expect(hidden).toHaveLength(1);
      expect(hidden[0]).toMatch(/^\.train-00001\.parquet\.\d+-[a-z0-9]+\.tmp$/);
      expect(await visible(dir)).toEqual(['train-00000.parquet', 'train-00000.parquet.stats.json']);
      const summary = await readShardSummary(dir);
      expect(summary.totals.rows).toBe(2);
      expect(summary.uncommitted).toEqual([]);

      const again = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2 });
      expect((await readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]);
      await feed(again, range(0, 4));
      expect((await again.finish()).map((s) => [s.shardIndex, s.rows])).toEqual([[1, 2]]);
    }));
});

/** A file system that fails writes with ENOSPC once `budget` bytes have been written to files matching `match`. */
function fullDisk(match: RegExp, budget: number): ShardFs {
  let written = 0;
  return {
    ...nodeShardFs,
    async open(path, options) {
      const h = await nodeShardFs.open(path, options);
      if (!match.test(path)) return h;
      return {
        ...h,
        async write(bytes) {
          written += bytes.byteLength;
          if (written > budget) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          await h.write(bytes);
        },
      };
    },
  };
}

describe('commit timing', () => {
  test("a shard is committed as soon as its last position is in, before the next shard's first sample arrives", () =>
    withDir(async (dir) => {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2 });
      await w.write(await makeRecord(0));
      expect(w.committed).toHaveLength(0);
      await w.fail({ position: 1, split: 'train', id: 'x', file: 'x.jpg', code: 'SAMPLE_INVALID', reason: 'broken' });
      expect(w.committed.map((s) => [s.shardIndex, s.rows, s.failures.length])).toEqual([[0, 1, 1]]);
      expect((await readdir(dir)).sort()).toEqual(['train-00000.parquet', 'train-00000.parquet.stats.json']);
      await w.write(await makeRecord(2));
      expect((await w.finish()).map((s) => s.shardIndex)).toEqual([0, 1]);
    }));
});

describe('write errors', () => {
  test('ENOSPC fails only that shard; committed shards stay intact and later shards are written', () =>
    withDir(async (dir) => {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2, fs: fullDisk(/train-00001\.parquet\.\d/, 0) });
      await feed(w, range(0, 2));
      await w.write(await makeRecord(2));
      // The shard's last position commits it, and its first byte hits the full disk.
      const err = await w.write(await makeRecord(3)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ShardWriteError);
      expect((err as ShardWriteError).message).toMatch(/train-00001\.parquet: ENOSPC/);
      expect((err as ShardWriteError).shardIndex).toBe(1);
      await w.write(await makeRecord(4));
      await w.write(await makeRecord(5));
      const stats = await w.finish();
      expect(stats.map((s) => s.shardIndex)).toEqual([0, 2]);
      expect(stats[1]!.rows).toBe(2);
      expect(await readdir(dir).then((fs) => fs.sort())).toEqual([
        'train-00000.parquet',
        'train-00000.parquet.stats.json',
        'train-00002.parquet',
        'train-00002.parquet.stats.json',
      ]);
      const scan = await findCompletedShards({ outDir: dir, split: 'train', shardSize: 2, format: 'parquet', fs: nodeShardFs });
      expect([...scan.completed.keys()].sort()).toEqual([0, 2]);
    }));

  test('a failing stats write leaves no data file visible', () =>
    withDir(async (dir) => {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2, fs: fullDisk(/stats\.json/, 0) });
      // The shard's last position commits it: the stats write fails there.
      await expect(feed(w, range(0, 2))).rejects.toBeInstanceOf(ShardWriteError);
      await expect(w.finish()).resolves.toEqual([]);
      expect(await readdir(dir)).toEqual([]);
    }));
});

describe('output lock', () => {
  test('a second writer is refused with a clear message; release lets it in', () =>
    withDir(async (dir) => {
      const lock = await acquireOutputLock(dir);
      const err = await acquireOutputLock(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(`in use by process ${process.pid} on ${hostname()}`);
      expect((err as Error).message).toContain(lockFileName());
      // Workers of a sharded run lock separately.
      const worker = await acquireOutputLock(dir, { worker: { index: 0, count: 2 } });
      await worker.release();
      await lock.release();
      const next = await acquireOutputLock(dir);
      await next.release();
      expect(await readdir(dir)).toEqual([]);
    }));

  test('a lock left by a dead process on this host is recovered; one from another host is not', () =>
    withDir(async (dir) => {
      // A pid that surely is dead: a child that has already exited.
      const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
      await writeFile(`${dir}/.unseg.lock`, JSON.stringify({ pid: dead, host: hostname(), startedAt: '2020-01-01T00:00:00Z' }));
      const lock = await acquireOutputLock(dir);
      expect(JSON.parse(await readFile(lock.path, 'utf8')).pid).toBe(process.pid);
      await lock.release();

      await writeFile(`${dir}/.unseg.lock`, JSON.stringify({ pid: dead, host: 'elsewhere', startedAt: '2020-01-01T00:00:00Z' }));
      await expect(acquireOutputLock(dir)).rejects.toThrow(/process \d+ on elsewhere.*remove .*\.unseg\.lock/);
    }));
});

describe('manifest', () => {
  test('merging two workers gives the same counts and failures as one run', async () => {
    const failed = new Set([3, 7, 8]);
    const single = await tempDir();
    const sharded = await tempDir();
    try {
      const w = await ShardWriter.open({ outDir: single.dir, split: 'train', shardSize: 4 });
      await feed(w, range(0, 13), failed);
      await w.finish();
      const v = await ShardWriter.open({ outDir: single.dir, split: 'val', shardSize: 4 });
      await feed(v, range(0, 3), new Set([1]), 'val');
      await v.finish();
      const one = await writeManifest(single.dir, { args: { shardSize: 4 }, noise: { source: 'uniform', epsFg: 8 / 255 } });

      // Two workers, samples assigned by position modulo 2, both writing into one folder.
      for (const index of [0, 1]) {
        const worker = { index, count: 2 };
        const tw = await ShardWriter.open({ outDir: sharded.dir, split: 'train', shardSize: 4, worker });
        await feed(tw, range(0, 13).filter((p) => p % 2 === index), failed);
        await tw.finish();
        const vw = await ShardWriter.open({ outDir: sharded.dir, split: 'val', shardSize: 4, worker });
        await feed(vw, range(0, 3).filter((p) => p % 2 === index), new Set([1]), 'val');
        await vw.finish();
        await writeManifest(sharded.dir, { noise: { source: 'uniform', epsFg: 8 / 255 }, startedAt: `2024-01-0${index + 1}T00:00:00Z` }, { worker });
      }
      expect(await visible(sharded.dir)).toContain('train-00000-w1of2.parquet');
      const merged = await mergeManifests([sharded.dir]);
      expect(merged.totals.rows).toBe(one.totals.rows);
      expect(merged.totals.failures).toBe(one.totals.failures);
      expect(Object.fromEntries(Object.entries(merged.splits).map(([k, c]) => [k, [c.rows, c.failures]]))).toEqual(
        Object.fromEntries(Object.entries(one.splits).map(([k, c]) => [k, [c.rows, c.failures]])),
      );
      const key = (f: { split: string; position: number; file: string; reason: string }): string => `${f.split}:${f.position}:${f.file}:${f.reason}`;
      expect(merged.failures.map(key).sort()).toEqual(one.failures.map(key).sort());
      expect(one.totals.rows).toBe(10 + 2);
      expect(merged.workers).toEqual({ count: 2, present: [0, 1], missing: [] });
      expect(merged.noise).toEqual({ source: 'uniform', epsFg: 8 / 255 });
      expect(merged.run.startedAt).toBe('2024-01-01T00:00:00Z');
      expect(merged.noiseSummary).toEqual(one.noiseSummary);

      // The manifest on disk is what writeManifest returned.
      expect(JSON.parse(await readFile(`${single.dir}/manifest.json`, 'utf8'))).toEqual(JSON.parse(JSON.stringify(one)));
      expect(one.versions.core).toMatch(/^\d+\.\d+\.\d+/);
      expect(one.schema.columns.find((c) => c.name === 'image')?.type).toBe('struct<bytes: binary, path: string>');

      // Mixing a single run's shards with a sharded run's would count rows twice.
      await expect(mergeManifests([single.dir, sharded.dir])).rejects.toThrow(/single run/);
    } finally {
      await single.cleanup();
      await sharded.cleanup();
    }
  });

  test('workers with the same generator weights agree although installed or run differently; other weights do not', () =>
    withDir(async (dir) => {
      const settings = (modelDir: string, weightsSha256: string, backend: string) => ({ source: 'unseg', epsFg: 8 / 255, settings: { modelDir, weightsSha256, backend } });
      const noises = [settings('/repo/models/default', 'aa', 'wasm'), settings('/app/models/default', 'aa', 'tensorflow')];
      for (const index of [0, 1]) {
        const worker = { index, count: 2 };
        const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2, worker });
        await feed(w, range(0, 4).filter((p) => Math.floor(p / 2) % 2 === index), new Set());
        await w.finish();
        await writeManifest(dir, { noise: noises[index] }, { worker });
      }
      expect((await mergeManifests([dir])).totals.rows).toBe(4);
      await writeManifest(dir, { noise: settings('/app/models/default', 'bb', 'wasm') }, { worker: { index: 1, count: 2 } });
      await expect(mergeManifests([dir])).rejects.toThrow(/workers disagree on noise settings/);
    }));

  test('readShardSummary lists shards, failures, schema and noise settings', () =>
    withDir(async (dir) => {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 2, onShardCommitted: () => writeManifest(dir, { noise: { source: 'none' } }).then(() => undefined) });
      await feed(w, range(0, 5), new Set([4]));
      await w.finish();
      const s = await readShardSummary(dir);
      expect(s.shards.map((x) => [x.file, x.rows, x.failures])).toEqual([
        ['train-00000.parquet', 2, 0],
        ['train-00001.parquet', 2, 0],
        ['train-00002.parquet', 0, 1],
      ]);
      expect(s.failures.map((f) => f.position)).toEqual([4]);
      expect(s.noise).toEqual({ source: 'none' });
      expect(Object.keys(s.manifests)).toEqual(['manifest.json']);
      // Written after every commit, so the manifest already counts the last shard.
      expect(s.manifests['manifest.json']!.totals.shards).toBe(3);
      expect(s.schema.huggingface.image).toEqual({ _type: 'Image' });
      expect(s.problems).toEqual([]);
    }));
});
