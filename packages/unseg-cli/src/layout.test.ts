import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkOutputLayout } from './layout.js';
import { cliInProcess } from './test-helpers/in-process.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-layout-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A folder holding these (empty) files, as a run of some layout left it. */
async function folder(name: string, files: string[]): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.mkdir(dir);
  for (const f of files) await fs.writeFile(path.join(dir, f), f === 'manifest.json' ? JSON.stringify({ workers: { count: 2, present: [0, 1], missing: [] } }) : '');
  return dir;
}

const byTwoWorkers = ['manifest-w0of2.json', 'train-00000-w0of2.parquet', 'train-00000-w0of2.parquet.stats.json', 'train-00001-w1of2.parquet', 'train-00001-w1of2.parquet.stats.json'];
const bySingle = ['manifest.json', 'train-00000.parquet', 'train-00000.parquet.stats.json'];

// --in does not exist: a run that got past the layout check would stop there, having written nothing.
const run = (out: string, ...extra: string[]) => cliInProcess(['run', 'coco', '--in', path.join(tmp, 'no-such-data'), '--out', out, '--noise', 'uniform', ...extra]);

describe('a rerun into a folder that another layout wrote', () => {
  it('refuses a single process over a --workers 2 folder, saying what to pass, before anything is written', async () => {
    const out = await folder('two', byTwoWorkers);
    const r = await run(out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${out} was written by 2 workers (shards train-00000-w0of2.parquet, train-00001-w1of2.parquet): rerun with --workers 2`);
    expect((await fs.readdir(out)).sort()).toEqual(byTwoWorkers);
  });

  it('refuses --shard-index/--shard-count over a single-process folder, and another count over a sharded one', async () => {
    const single = await folder('single', bySingle.filter((f) => f !== 'manifest.json'));
    const slot = await run(single, '--shard-index', '0', '--shard-count', '2');
    expect(slot.code).toBe(1);
    expect(slot.stderr).toMatch(/was written by a single process \(shards train-00000\.parquet\): rerun as a single process \(without --workers, --shard-index or --shard-count\)/);
    const two = await folder('two', byTwoWorkers);
    const three = await run(two, '--shard-index', '1', '--shard-count', '3');
    expect(three.code).toBe(1);
    expect(three.stderr).toMatch(/was written by 2 workers .*: rerun with --workers 2 \(or, one process per worker, --shard-count 2\)/);
  });

  it('refuses --workers over a single-process folder, and any rerun of a folder that holds two layouts', async () => {
    const single = await folder('single', bySingle.filter((f) => f !== 'manifest.json'));
    const workers = await run(single, '--workers', '2');
    expect(workers.code).toBe(1);
    expect(workers.stderr).toMatch(/was written by a single process .*: rerun as a single process/);
    const mixed = await folder('mixed', [...byTwoWorkers, 'train-00000.parquet']);
    for (const extra of [[], ['--workers', '2']]) {
      const r = await run(mixed, ...extra);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/holds the output of more than one run layout, 2 workers \(shards train-00000-w0of2\.parquet, .*\) and a single process \(shards train-00000\.parquet\): its shards overlap/);
    }
  });

  it('knows a merged folder by its manifest.json alone, and lets the same layout resume and a new folder start', async () => {
    const merged = await folder('merged', ['manifest.json']);
    await expect(checkOutputLayout(merged, { kind: 'single' })).rejects.toThrow(/was written by 2 workers \(manifest\.json\): rerun with --workers 2/);
    await expect(checkOutputLayout(merged, { kind: 'workers', count: 2 })).resolves.toBeUndefined();
    await expect(checkOutputLayout(await folder('two', byTwoWorkers), { kind: 'workers', count: 2 })).resolves.toBeUndefined();
    await expect(checkOutputLayout(await folder('single', bySingle.map((f) => (f === 'manifest.json' ? 'other.txt' : f))), { kind: 'single' })).resolves.toBeUndefined();
    await expect(checkOutputLayout(path.join(tmp, 'new'), { kind: 'workers', count: 4 })).resolves.toBeUndefined();
    const started = await run(path.join(tmp, 'new'));
    expect(started.stderr).toMatch(/--in .*no-such-data: no such file or folder/);
  });
});
