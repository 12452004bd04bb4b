import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliInProcess } from './test-helpers/in-process.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-shard-folder-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('a shard folder given to inspect, verify or export', () => {
  it('that does not exist is a usage error saying so, not an empty dataset or a missing plugin', async () => {
    const missing = path.join(tmp, 'nonexistent');
    for (const args of [['inspect', missing], ['inspect', missing, '--json'], ['verify', missing, '--against', 'x'], ['export', missing, '--out', path.join(tmp, 'e')]]) {
      const r = await cliInProcess(args);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`unseg-pipeline: ${missing}: no such folder (give the --out folder of a run)\n`);
    }
  });

  it('that holds no shards and no manifest is said to hold no unseg output; a file is not a folder', async () => {
    await fs.writeFile(path.join(tmp, 'notes.txt'), 'hello');
    for (const args of [['inspect', tmp], ['verify', tmp, '--against', 'x']]) {
      const r = await cliInProcess(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`unseg-pipeline: ${tmp} holds no unseg output: no shards and no manifest.json (give the --out folder of a run)\n`);
    }
    const file = await cliInProcess(['inspect', path.join(tmp, 'notes.txt')]);
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/notes\.txt is a file, not a folder of shards/);
  });

  it('that holds only an uncommitted shard (a killed run) is still inspected', async () => {
    await fs.writeFile(path.join(tmp, 'train-00000.parquet'), '');
    const r = await cliInProcess(['inspect', tmp]);
    expect(r.stdout).toMatch(/0 shards, 0 rows, 0 failures/);
    expect(r.stdout).toMatch(/uncommitted \(ignored; a killed or running job\): train-00000\.parquet/);
  });

  it('that holds only worker manifests is said to need merge-manifest before verify', async () => {
    await fs.writeFile(path.join(tmp, 'manifest-w0of2.json'), '{}');
    await fs.writeFile(path.join(tmp, 'manifest-w1of2.json'), '{}');
    const r = await cliInProcess(['verify', tmp, '--against', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds worker manifests \(manifest-w0of2\.json, manifest-w1of2\.json\) but no manifest\.json: merge them first with `unseg-pipeline merge-manifest/);
  });
});
