import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const bin = path.join(repo, 'packages/unseg-cli/dist/bin.js');
const sample = path.join(repo, 'samples/coco-facades-mini');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: repo });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let out: string;
beforeEach(async () => {
  out = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-cli-'));
});
afterEach(async () => {
  await fs.rm(out, { recursive: true, force: true });
});

describe('unseg-pipeline (built CLI)', () => {
  it("finds a plugin package installed in the user's project, not only beside the CLI", async () => {
    const project = path.join(out, 'project');
    const pkg = path.join(project, 'node_modules', 'unseg-plugin-empty');
    await fs.mkdir(path.join(pkg, 'dist'), { recursive: true });
    await fs.mkdir(path.join(project, 'data'));
    await fs.writeFile(path.join(pkg, 'package.json'), JSON.stringify({ name: 'unseg-plugin-empty', type: 'module', exports: { '.': { import: './dist/index.js' } } }));
    await fs.writeFile(
      path.join(pkg, 'dist', 'index.js'),
      `export default {
        name: 'empty', version: '1.0.0', contract: 1,
        detect: async () => true,
        open: async (root) => ({ root, splits: async () => ['train'], categories: async () => [], async *samples() {} }),
      };\n`,
    );
    const r = await run(process.execPath, [bin, 'run', 'unseg-plugin-empty', '--in', 'data', '--out', 'shards', '--noise', 'uniform', '--progress', 'none'], { cwd: project });
    expect(r.stderr).toMatch(/unseg: empty .*data -> .*shards[\s\S]*done: 0 images published, 0 failed/);
  });

  it('exits 1 with a message, not 0 in silence, when a plugin awaits a promise that never settles', async () => {
    const plugin = path.join(out, 'stuck.mjs');
    await fs.writeFile(
      plugin,
      `export default {
        name: 'stuck', version: '1.0.0', contract: 1,
        detect: async () => true,
        open: async (root) => ({
          root,
          splits: async () => ['train'],
          categories: async () => [{ id: 1, name: 'thing', isThing: true }],
          async *samples() { await new Promise(() => {}); },
        }),
      };\n`,
    );
    const r = await cli(['run', plugin, '--in', out, '--out', path.join(out, 'shards'), '--noise', 'uniform', '--progress', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unseg-pipeline: stopped unfinished: the command was waiting for work that can never finish .*samples\(\)/);
  });

  it('protects the bundled sample, prints a summary, and resumes on a rerun', async () => {
    const args = ['run', 'coco', '--in', sample, '--out', out, '--noise', 'uniform', '--shard-size', '2', '--progress', 'json'];
    const first = await cli(args);
    expect(first.stderr).toMatch(/done: 4 images published, 0 failed/);
    expect(first.stderr).not.toMatch(/bundled generator has not yet protected/);
    expect(first.code).toBe(0);
    const events = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string });
    expect(events.filter((e) => e.event === 'published')).toHaveLength(4);
    expect(events.filter((e) => e.event === 'shard')).toHaveLength(2);
    expect((await fs.readdir(out)).filter((f) => f.endsWith('.parquet')).sort()).toEqual(['train-00000.parquet', 'train-00001.parquet']);

    const second = await cli(args);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/0 images published, 0 failed, 4 already done/);

    const inspect = await cli(['inspect', out]);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toMatch(/2 shards, 4 rows, 0 failures/);
  });

  it('says clearly what is wrong with a bad option or plugin, exit 1', async () => {
    const badEps = await cli(['run', 'coco', '--in', sample, '--out', out, '--noise', 'uniform', '--eps-fg', 'lots']);
    expect(badEps.code).toBe(1);
    expect(badEps.stderr).toMatch(/--eps-fg "lots": expected a budget such as 8\/255/);
    const badPlugin = await cli(['run', 'nosuchformat', '--in', sample, '--out', out]);
    expect(badPlugin.code).toBe(1);
    expect(badPlugin.stderr).toMatch(/unknown plugin "nosuchformat": not built in \(coco, ade20k, sa1b\)/);
    const wrongFormat = await cli(['run', 'ade20k', '--in', sample, '--out', out, '--noise', 'uniform']);
    expect(wrongFormat.code).toBe(1);
    expect(wrongFormat.stderr).toMatch(/does not look like a ade20k dataset/);
    const missing = await cli(['run', 'coco', '--in', path.join(out, 'no-such-folder'), '--out', out, '--noise', 'uniform']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--in .*no-such-folder: no such file or folder/);
  });

  it('reads --pattern for the classwise source and refuses it elsewhere or misspelt', async () => {
    const picture = path.join(out, 'p.png');
    const ok = await cli(['preview', 'coco', '--in', sample, '--id', '0', '--out', picture, '--noise', 'classwise', '--pattern', 'grating']);
    expect(ok.code).toBe(0);
    expect(ok.stdout + ok.stderr).toMatch(/max \|delta\| fg 8 bg 0/);
    await fs.access(picture);
    const elsewhere = await cli(['preview', 'coco', '--in', sample, '--id', '0', '--out', picture, '--noise', 'sign', '--pattern', 'grating']);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/a pattern only applies to the classwise noise source, not to "sign"/);
    const misspelt = await cli(['preview', 'coco', '--in', sample, '--id', '0', '--out', picture, '--noise', 'classwise', '--pattern', 'stripes']);
    expect(misspelt.code).toBe(1);
    expect(misspelt.stderr).toMatch(/--pattern <kind>' argument 'stripes' is invalid\. Allowed choices are cells, grating/);
  });

  it('publishes with learned class codes (--pattern codes --codes FILE), their digest in the manifest; a bad file is one line naming it', async () => {
    const codes = path.join(out, 'codes.json');
    const stripe = (s: number) => [[[s, -s]], [[s, -s]], [[-s, s]]];
    await fs.writeFile(codes, JSON.stringify({ format: 'unseg-class-codes', version: 1, cellSize: 4, codes: [stripe(1), stripe(-1)], background: stripe(0.5) }));
    const dest = path.join(out, 'codes');
    const run = await cli(['run', 'coco', '--in', sample, '--out', dest, '--noise', 'classwise', '--pattern', 'codes', '--codes', codes, '--progress', 'none']);
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).toMatch(/learned code \(2 codes from .*codes\.json, 4px cells, one on the background too\)/);
    const manifest = JSON.parse(await fs.readFile(path.join(dest, 'manifest.json'), 'utf8')) as { noise: { source: string; settings: { codes: string } } };
    expect(manifest.noise).toMatchObject({ source: 'classwise', settings: { pattern: 'codes', cellSize: 4, overlap: 'smaller', categoryZero: 'coded' } });
    expect(manifest.noise.settings.codes).toMatch(/^[0-9a-f]{64}$/);
    await fs.writeFile(codes, JSON.stringify({ format: 'unseg-class-codes', version: 1, cellSize: 4, codes: [[[[2]], [[0]], [[0]]]] }));
    const bad = await cli(['run', 'coco', '--in', sample, '--out', path.join(out, 'codes-bad'), '--noise', 'classwise', '--pattern', 'codes', '--codes', codes]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/class codes .*codes\.json: code 0 \(every category\), channel 0, row 0, column 0: directions must be numbers in \[-1, 1\], got 2/);
    const none = await cli(['run', 'coco', '--in', sample, '--out', path.join(out, 'codes-none'), '--noise', 'classwise', '--pattern', 'codes']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/pattern codes needs a class-codes file \(--codes <file>\)/);
  });

  it('publishes with --noise grating and its --cell-size, recorded in the manifest; no labels asked', async () => {
    const dest = path.join(out, 'grating');
    const run = await cli(['run', 'coco', '--in', sample, '--out', dest, '--noise', 'grating', '--cell-size', '4', '--progress', 'none']);
    expect(run.code).toBe(0);
    const manifest = JSON.parse(await fs.readFile(path.join(dest, 'manifest.json'), 'utf8')) as { noise: { source: string; settings: unknown } };
    expect(manifest.noise).toMatchObject({ source: 'grating', settings: { seed: 0, stripeWidth: 4 } });
    const elsewhere = await cli(['run', 'coco', '--in', sample, '--out', path.join(out, 'g2'), '--noise', 'uniform', '--cell-size', '4']);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/a cell size only applies to the classwise and grating noise sources, not to "uniform"/);
  });

  it('says, when the bundled generator runs, that it has not yet protected in the benchmark; not for a generator of your own', async () => {
    const bundled = await cli(['run', 'coco', '--in', sample, '--out', path.join(out, 'bundled'), '--limit', '1', '--progress', 'none']);
    expect(bundled.code).toBe(0);
    expect(bundled.stderr).toMatch(/note: the bundled generator has not yet protected a dataset in the efficacy benchmark/);
    const own = await cli(['run', 'coco', '--in', sample, '--out', path.join(out, 'own'), '--limit', '1', '--progress', 'none', '--generator', path.join(repo, 'packages/unseg-core/models/default')]);
    expect(own.code).toBe(0);
    expect(own.stderr).not.toMatch(/has not yet protected/);
  }, 60_000);

  it('lists noise sources and plugins', async () => {
    expect((await cli(['noise'])).stdout).toMatch(/^unseg\s/m);
    expect((await cli(['plugins'])).stdout).toMatch(/^coco\s+\S+\s+contract 1/m);
  });
});
