import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = path.resolve(here, '..');
const repoRoot = path.resolve(pkgDir, '../..');
const bin = path.join(repoRoot, 'packages/unseg-cli/dist/bin.js');
const fixture = path.join(here, 'test-fixtures/cityscapes');

// The CLI loads built JavaScript, so the plugin and the CLI must be built. `nx test` builds both
// first (the test target depends on build, which depends on the CLI as a devDependency); a bare
// `npm test` builds what is missing here.
beforeAll(async () => {
  if (!existsSync(bin)) {
    await run('npx', ['nx', 'run', '@unseg/cli:build', '--outputStyle=static'], { cwd: repoRoot, env: { ...process.env, NX_DAEMON: 'false' } });
  }
  if (!existsSync(path.join(pkgDir, 'dist/index.js'))) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: pkgDir });
}, 300_000);

async function protect(pluginSpec: string): Promise<{ out: string; stdout: string; stderr: string }> {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'cityscapes-cli-'));
  const { stdout, stderr } = await run(process.execPath, [bin, 'run', pluginSpec, '--in', fixture, '--out', out, '--noise', 'uniform'], { cwd: repoRoot });
  return { out, stdout, stderr };
}

async function expectOneShard(out: string): Promise<void> {
  const files = (await fs.readdir(out)).sort();
  expect(files).toEqual(['manifest.json', 'val-00000.parquet', 'val-00000.parquet.stats.json']);
  const stats = JSON.parse(await fs.readFile(path.join(out, 'val-00000.parquet.stats.json'), 'utf8')) as {
    rows: number;
    failures: unknown[];
    noise: { maxAbsFg: number; maxAbsBg: number };
  };
  expect([stats.rows, stats.failures]).toEqual([1, []]);
  // The budget is the CLI's default: 8/255 inside the objects, 2/255 outside.
  expect(stats.noise.maxAbsFg).toBeLessThanOrEqual(8);
  expect(stats.noise.maxAbsBg).toBeLessThanOrEqual(2);
  const parquet = await fs.readFile(path.join(out, 'val-00000.parquet'));
  expect(parquet.subarray(0, 4).toString()).toBe('PAR1');
  const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as { run: { args: { plugin: string } } };
  expect(manifest.run.args.plugin).toBe('cityscapes');
}

describe('unseg-pipeline run with this plugin', () => {
  it('loads it by path and writes a shard; verify finds the plugin again from the manifest', async () => {
    const { out } = await protect('./examples/plugin-cityscapes/dist/index.js');
    await expectOneShard(out);
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as { run: { args: { pluginSource: string } } };
    expect(manifest.run.args.pluginSource).toBe(path.join(repoRoot, 'examples/plugin-cityscapes/dist/index.js'));
    // From another folder, without --plugin: the recorded path is absolute.
    const { stdout } = await run(process.execPath, [bin, 'verify', out, '--against', fixture], { cwd: os.tmpdir() });
    expect(stdout).toMatch(/no problems found/);
  });

  it('loads it by npm package name (the workspace links it into node_modules)', async () => {
    const { out } = await protect('unseg-plugin-cityscapes');
    await expectOneShard(out);
  });
});
