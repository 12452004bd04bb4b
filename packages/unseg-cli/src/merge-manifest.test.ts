// A sharded run the way a job runner does it: n = 3 CLI processes (`dist/bin.js`; the test
// target depends on build) started at once, two sharing one output folder and one alone, then
// `merge-manifest`. The merged folder must read, through DuckDB, row for row like a
// single-process run of the same data, and pass `verify` against the originals.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { writeCleanCoco } from './test-helpers/coco-fixtures.js';
import { cliInProcess } from './test-helpers/in-process.js';

const BIN = path.resolve('dist/bin.js');
const SHARD = '2';

let tmp: string;
let root: string;
let single: string;
let shared: string;
let alone: string;
let local: string;

const cli = cliInProcess;

/** One `run` process; resolves with its exit code and stderr. */
function runProcess(out: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(
    process.execPath,
    [BIN, 'run', 'coco', '--in', root, '--out', out, '--noise', 'uniform', '--seed', '7', '--progress', 'none', '--shard-size', SHARD, '--concurrency', '2', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stderr })));
}

/** Every column, in a form that compares exactly (image bytes by md5). */
async function rows(dir: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(
      `select split, position::integer as position, id, width, height, md5(image.bytes) as md5, image.path as image_path,
              source_path, to_json(objects)::varchar as objects, noise_max_abs_fg, noise_max_abs_bg, noise_mean_abs,
              noise_psnr, noise_prompt_fraction
       from read_parquet('${dir}/*.parquet') order by split, position`,
    );
    return r.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

const readJson = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the CLI first (nx run @unseg/cli:build)`);
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-merge-'));
  root = path.join(tmp, 'coco');
  // Two splits of uneven size (13 -> 7 shards, 5 -> 3 shards), so workers get unequal work,
  // and one image that cannot be decoded, so a failure has to survive the merge too.
  await writeCleanCoco(root, 13, 'train');
  await writeCleanCoco(root, 5, 'val');
  await fs.writeFile(path.join(root, 'train', 'img0005.png'), Buffer.from('not a png'));
  single = path.join(tmp, 'single');
  shared = path.join(tmp, 'shared');
  alone = path.join(tmp, 'alone');
  local = path.join(tmp, 'local');
  // All four processes at once: the three workers race each other (two of them on one folder)
  // and the reference run.
  const results = await Promise.all([
    runProcess(single),
    runProcess(shared, ['--shard-index', '0', '--shard-count', '3']),
    // The index from a Kubernetes Indexed Job's environment, the count from UNSEG_SHARD_COUNT.
    runProcess(shared, [], { JOB_COMPLETION_INDEX: '1', UNSEG_SHARD_COUNT: '3' }),
    runProcess(alone, ['--shard-index', '2', '--shard-count', '3']),
    // The same three workers started by one command on this machine, merged by it.
    runProcess(local, ['--workers', '3']),
  ]);
  // Exit 2 where the undecodable image (position 4: train shard 2, worker 2) failed, else 0.
  const codes = results.map((r) => r.code);
  if (codes.join() !== '2,0,0,2,2') throw new Error(`exit codes ${codes.join()}, expected 2,0,0,2,2:\n${results.map((r) => r.stderr).join('\n')}`);
}, 60_000);

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('unseg-pipeline merge-manifest', () => {
  it('run --workers 3 does the sharded run and the merge in one command, row for row a single-process run', async () => {
    expect(await rows(local)).toEqual(await rows(single));
    const m = await readJson(path.join(local, 'manifest.json'));
    expect(m.workers).toEqual({ count: 3, present: [0, 1, 2], missing: [] });
    expect(m.failures.map((f: { position: number }) => f.position)).toEqual([4]);
    const names = (await fs.readdir(local)).filter((f) => f.endsWith('.parquet'));
    expect(names.every((f) => /-w\dof3\.parquet$/.test(f))).toBe(true);
  });

  it('joins 3 concurrent workers into a folder that equals a single-process run, row for row', async () => {
    // Each worker wrote only its own shards: k % 3 === index.
    const names = [...(await fs.readdir(shared)), ...(await fs.readdir(alone))].filter((f) => f.endsWith('.parquet'));
    for (const f of names) {
      const m = /^(train|val)-(\d{5})-w(\d)of3\.parquet$/.exec(f);
      expect(m).not.toBeNull();
      expect(Number(m![2]) % 3).toBe(Number(m![3]));
    }
    expect(names).toHaveLength(7 + 3);

    const merged = path.join(tmp, 'merged');
    const { code, stdout } = await cli(['merge-manifest', shared, alone, '--out', merged]);
    expect(stdout).toMatch(/10 shards, 17 rows, 1 failures/);
    expect(code).toBe(0);

    const expected = await rows(single);
    expect(expected).toHaveLength(17);
    expect(await rows(merged)).toEqual(expected);

    const m = await readJson(path.join(merged, 'manifest.json'));
    const s = await readJson(path.join(single, 'manifest.json'));
    expect(m.workers).toEqual({ count: 3, present: [0, 1, 2], missing: [] });
    expect(m.totals.rows).toBe(s.totals.rows);
    const counts = (x: Record<string, { rows: number; failures: number; shards: number }>) =>
      Object.fromEntries(Object.entries(x).map(([k, v]) => [k, [v.rows, v.failures, v.shards]]));
    expect(counts(m.splits)).toEqual(counts(s.splits));
    expect(counts(m.splits)).toEqual({ train: [12, 1, 7], val: [5, 0, 3] });
    expect(m.noise).toEqual(s.noise);
    expect(m.failures.map((f: { position: number; code: string; file: string }) => [f.position, f.code, path.basename(f.file)])).toEqual([[4, 'IMAGE_INVALID', 'img0005.png']]);
    expect(m.run.args).toMatchObject({ plugin: 'coco', worker: null, shardCount: 3 });
    // Every shard the manifest lists is in the merged folder, with its stats beside it.
    for (const shard of m.shards as { file: string }[]) {
      expect(existsSync(path.join(merged, shard.file))).toBe(true);
      expect(existsSync(path.join(merged, `${shard.file}.stats.json`))).toBe(true);
    }

    // The merged folder is a dataset in its own right: every image checked against its original.
    const verified = await cli(['verify', merged, '--against', root]);
    expect(verified.stdout).toMatch(/no problems found/);
    expect(verified.code).toBe(0);

    // Merging again into the same folder is a no-op, not an error.
    const again = await cli(['merge-manifest', shared, alone, '--out', merged, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).placed).toMatchObject({ 'already there': 10 });
  });

  it('merges in place and says which workers are missing (exit 2)', async () => {
    const partial = path.join(tmp, 'partial');
    await fs.cp(shared, partial, { recursive: true });
    // What a merge killed between writing and renaming its manifest left behind.
    await fs.writeFile(path.join(partial, '.manifest.json.4242-abcd1234.tmp'), '{"half": ');
    const { code, stdout } = await cli(['merge-manifest', partial, '--out', partial]);
    expect(code).toBe(2);
    expect((await fs.readdir(partial)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(stdout).toMatch(/workers: 2 of 3 present, missing: 2/);
    expect(stdout).toMatch(/incomplete: nothing from worker\(s\) 2 of 3/);
    const m = await readJson(path.join(partial, 'manifest.json'));
    expect(m.workers).toEqual({ count: 3, present: [0, 1], missing: [2] });
    expect(m.totals.shards).toBe(7);
  });

  it('refuses workers that disagree on the noise settings, and writes nothing', async () => {
    const other = path.join(tmp, 'other-seed');
    await fs.cp(alone, other, { recursive: true });
    const file = path.join(other, 'manifest-w2of3.json');
    const m = await readJson(file);
    m.noise.settings.seed = 8;
    await fs.writeFile(file, JSON.stringify(m));
    const out = path.join(tmp, 'refused');
    const { code, stderr } = await cli(['merge-manifest', shared, other, '--out', out]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/workers disagree on noise settings/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a shard whose bytes do not match its stats file', async () => {
    const broken = path.join(tmp, 'broken');
    await fs.cp(alone, broken, { recursive: true });
    const shard = (await fs.readdir(broken)).find((f) => f.endsWith('.parquet'))!;
    await fs.appendFile(path.join(broken, shard), 'x');
    const { code, stderr } = await cli(['merge-manifest', shared, broken, '--out', path.join(tmp, 'refused2')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`${shard} is \\d+ bytes, its stats file says \\d+`));
  });
});
