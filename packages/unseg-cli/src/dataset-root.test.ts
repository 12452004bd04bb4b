import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliInProcess } from './test-helpers/in-process.js';

const sample = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../samples/coco-facades-mini');
let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-dataset-root-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('a dataset folder given with --in or --against', () => {
  it('that does not exist is said to be missing, by run, preview and verify', async () => {
    const missing = path.join(tmp, 'no-such-dataset');
    const shards = path.join(tmp, 'shards');
    const made = await cliInProcess(['run', 'coco', '--in', sample, '--out', shards, '--noise', 'uniform', '--limit', '1', '--progress', 'none']);
    expect(made.code).toBe(0);
    for (const [args, option] of [
      [['run', 'coco', '--in', missing, '--out', path.join(tmp, 'out')], '--in'],
      [['preview', 'coco', '--in', missing, '--id', '1', '--out', path.join(tmp, 'p.png')], '--in'],
      [['verify', shards, '--against', missing], '--against'],
    ] as const) {
      const r = await cliInProcess([...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`unseg-pipeline: ${option} ${missing}: no such file or folder\n`);
    }
  }, 60_000);

  it('that exists but is not in the format says so', async () => {
    const r = await cliInProcess(['preview', 'coco', '--in', tmp, '--id', '1', '--out', path.join(tmp, 'p.png')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not look like a coco dataset \(the plugin's detect\(\) said no\)/);
  });
});
