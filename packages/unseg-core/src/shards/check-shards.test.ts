import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeManifest } from './manifest.js';
import { feed, makeRecord, tempDir } from './test-helpers/records.js';
import { ShardWriter } from './writer.js';

// tools/check-shards.mjs is what the lead runs on the real output; run it here on small ones.
const script = fileURLToPath(new URL('../../../../tools/check-shards.mjs', import.meta.url));
const run = async (args: string[]): Promise<{ code: number; out: string }> => {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script, ...args]);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
};

test('check-shards passes a good folder and names each problem in a bad one', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 3 });
    await feed(w, [0, 1, 2, 3, 4], new Set([1]));
    await w.finish();
    const a = await ShardWriter.open({ outDir: dir, split: 'val', shardSize: 3 });
    await feed(a, [0, 1], new Set(), 'val');
    await a.finish();
    await writeManifest(dir, { noise: { source: 'uniform' } });

    const good = await run([dir, '--budget-fg', '8/255', '--budget-bg', '2/255']);
    expect(good.out).toContain('all checks passed');
    expect(good.out).toMatch(/3 shards, 6 rows, 1 failed samples/);
    expect(good.code).toBe(0);

    // Over budget: makeRecord stores 8 inside the prompt.
    const tight = await run([dir, '--budget-fg', '4/255']);
    expect(tight.code).toBe(1);
    expect(tight.out).toMatch(/max \|delta\| in prompt 8 > budget 4/);

    // A shard with an image that does not decode, committed normally, and not in the manifest.
    const b = await ShardWriter.open({ outDir: dir, split: 'test', shardSize: 3 });
    const rec = await makeRecord(0, 'test');
    await b.write({ ...rec, image: { ...rec.image, bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) } });
    await b.finish();
    const bad = await run([dir]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/test-00000\.parquet: position 0: image does not decode/);
    expect(bad.out).toMatch(/test-00000\.parquet: not listed in any manifest/);
  } finally {
    await cleanup();
  }
});
