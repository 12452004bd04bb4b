// `unseg-pipeline verify` on a real run's output, then on copies tampered in the ways that
// matter: a changed image whose checksums were updated to match (only the pixel check against
// the original can catch it), a shard changed in place, a deleted stats file.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeCleanCoco } from './test-helpers/coco-fixtures.js';
import { cliInProcess } from './test-helpers/in-process.js';

let tmp: string;
let root: string;
let good: string;

const cli = cliInProcess;

const run = (outDir: string, ...extra: string[]) =>
  cli(['run', 'coco', '--in', root, '--out', outDir, '--noise', 'uniform', '--progress', 'none', '--shard-size', '4', ...extra]);

async function copyOf(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fs.cp(good, dir, { recursive: true });
  return dir;
}

const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-verify-'));
  root = await writeCleanCoco(path.join(tmp, 'coco'), 10);
  good = path.join(tmp, 'good');
  expect((await run(good)).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('unseg-pipeline verify', () => {
  it('passes a good output: every image compared with its original, exit 0', async () => {
    const { code, stdout } = await cli(['verify', good, '--against', root]);
    expect(stdout).toMatch(/3 shards, 10 images compared with their originals; budget fg 8\/255, bg 2\/255/);
    expect(stdout).toMatch(/no problems found/);
    expect(code).toBe(0);
  });

  it('catches an image over budget even when the shard, stats and manifest checksums agree', async () => {
    // The same data protected with a 4x larger budget, swapped in with consistent checksums.
    const loud = path.join(tmp, 'loud');
    expect((await run(loud, '--eps-fg', '32/255', '--eps-bg', '32/255')).code).toBe(0);
    const dir = await copyOf('swapped');
    const file = 'train-00001.parquet';
    await fs.copyFile(path.join(loud, file), path.join(dir, file));
    await fs.copyFile(path.join(loud, `${file}.stats.json`), path.join(dir, `${file}.stats.json`));
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    const entry = manifest.shards.find((s: { file: string }) => s.file === file);
    entry.sha256 = await sha256(path.join(dir, file));
    entry.bytes = (await fs.stat(path.join(dir, file))).size;
    await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));

    const { code, stdout } = await cli(['verify', dir, '--against', root, '--json']);
    expect(code).toBe(2);
    const report = JSON.parse(stdout) as { problems: { file: string; kind: string; position?: number; message: string }[] };
    const budget = report.problems.filter((p) => p.kind === 'BUDGET');
    // Positions 4..7 are in the swapped shard, and only those.
    expect(budget.map((p) => [p.file, p.position])).toEqual([4, 5, 6, 7].map((p) => [file, p]));
    expect(budget[0]!.message).toMatch(/outside the prompt is \d+\/255 > 2\/255/);
    expect(report.problems.filter((p) => p.kind !== 'BUDGET')).toEqual([]);
  });

  it('checks against a tighter budget given for one region, the other taken from the manifest', async () => {
    const { code, stdout } = await cli(['verify', good, '--against', root, '--eps-fg', '4', '--json']);
    expect(code).toBe(2);
    const report = JSON.parse(stdout) as { budget: { epsFg: number; epsBg: number }; problems: { kind: string; message: string }[] };
    expect(report.budget).toEqual({ epsFg: 4 / 255, epsBg: 2 / 255 });
    expect(report.problems.length).toBeGreaterThan(0);
    for (const p of report.problems) expect(p).toMatchObject({ kind: 'BUDGET', message: expect.stringMatching(/inside the prompt is \d+\/255 > 4\/255/) });
  });

  it('catches a shard changed in place (sha256 against stats and manifest)', async () => {
    const dir = await copyOf('flipped');
    const file = path.join(dir, 'train-00000.parquet');
    const bytes = await fs.readFile(file);
    // A byte in the middle of the file: inside the image column's data, not the footer.
    bytes[Math.floor(bytes.length / 3)]! ^= 0xff;
    await fs.writeFile(file, bytes);
    const { code, stdout } = await cli(['verify', dir, '--against', root]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/train-00000\.parquet\s+train\s+-\s+-\s+SHA256\s+sha256\/size .* differ from the stats file's/);
    expect(stdout).toMatch(/SHA256\s+sha256 differs from manifest\.json's/);
  });

  it('catches a deleted stats file', async () => {
    const dir = await copyOf('nostats');
    await fs.rm(path.join(dir, 'train-00002.parquet.stats.json'));
    const { code, stdout } = await cli(['verify', dir, '--against', root]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/train-00002\.parquet\s+train.*MISSING_STATS\s+no stats file/);
  });

  it('catches an unfinished run: samples in no shard, and a manifest with no end', async () => {
    // What a run killed before its last shard leaves: the manifest lists the committed shards only.
    const dir = await copyOf('unfinished');
    await fs.rm(path.join(dir, 'train-00002.parquet'));
    await fs.rm(path.join(dir, 'train-00002.parquet.stats.json'));
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    manifest.run.endedAt = null;
    manifest.shards = manifest.shards.filter((s: { file: string }) => s.file !== 'train-00002.parquet');
    manifest.totals.rows = 8;
    await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const { code, stdout } = await cli(['verify', dir, '--against', root]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/UNFINISHED\s+the run has not finished/);
    expect(stdout).toMatch(/NOT_PUBLISHED\s+2 of the split's 10 samples are in no shard and no failure record \(positions 8, 9\)/);
    expect(stdout).toMatch(/2 problem\(s\)/);
  });

  it('counts a sample that failed, with its failure recorded, as accounted for', async () => {
    const broken = await writeCleanCoco(path.join(tmp, 'coco-broken'), 5);
    await fs.writeFile(path.join(broken, 'train', 'img0003.png'), 'not an image');
    const dir = path.join(tmp, 'with-failure');
    expect((await cli(['run', 'coco', '--in', broken, '--out', dir, '--noise', 'uniform', '--progress', 'none'])).code).toBe(2);
    const { code, stdout } = await cli(['verify', dir, '--against', broken]);
    expect(stdout).toMatch(/4 images compared/);
    expect(stdout).toMatch(/no problems found/);
    expect(code).toBe(0);
  });

  it('names an original image that is gone, and does not count it as compared', async () => {
    const original = path.join(tmp, 'coco-gone');
    await fs.cp(root, original, { recursive: true });
    await fs.rm(path.join(original, 'train', 'img0002.png'));
    const { code, stdout } = await cli(['verify', good, '--against', original]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/9 images compared/);
    expect(stdout).toMatch(/ORIGINAL\s+the original cannot be read now: .*file not found: .*img0002\.png/);
  });

  it('expects only the first --limit samples of a --limit run', async () => {
    const dir = path.join(tmp, 'limited');
    expect((await run(dir, '--limit', '5')).code).toBe(0);
    const { code, stdout } = await cli(['verify', dir, '--against', root]);
    expect(stdout).toMatch(/no problems found/);
    expect(code).toBe(0);
  });

  it('catches a deleted shard that the manifest still lists', async () => {
    const dir = await copyOf('noshard');
    await fs.rm(path.join(dir, 'train-00000.parquet'));
    const { code, stdout } = await cli(['verify', dir, '--against', root]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/MISSING_DATA\s+stats file for train-00000\.parquet, which is missing/);
    expect(stdout).toMatch(/lists train-00000\.parquet, which is missing/);
    expect(stdout).toMatch(/totals\.rows 10, 6 rows in the shards/);
  });
});
