import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeRgb } from '@unseg/core';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const bin = path.join(repo, 'packages/unseg-cli/dist/bin.js');
const sample = path.join(repo, 'samples/coco-facades-mini');

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-cli-export-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

test('run, then export: the COCO layout again, file_names pointing to the exported PNGs', async () => {
  await run(process.execPath, [bin, 'run', 'coco', '--in', sample, '--out', path.join(tmp, 'shards'), '--noise', 'uniform', '--progress', 'none']);
  const { stdout } = await run(process.execPath, [bin, 'export', path.join(tmp, 'shards'), '--out', path.join(tmp, 'coco')]);
  expect(stdout).toMatch(/train: 4 images, annotations from original/);
  const json = JSON.parse(await fs.readFile(path.join(tmp, 'coco/train/_annotations.coco.json'), 'utf8')) as { images: { file_name: string }[] };
  for (const i of json.images) {
    const bytes = await fs.readFile(path.join(tmp, 'coco/train', i.file_name));
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  }
  // A second export into the same folder is refused rather than mixed.
  await expect(run(process.execPath, [bin, 'export', path.join(tmp, 'shards'), '--out', path.join(tmp, 'coco')])).rejects.toMatchObject({ code: 1 });
}, 120_000);

test('preview writes four panels and a caption with the budget and PSNR', async () => {
  const out = path.join(tmp, 'p.png');
  const { stdout } = await run(process.execPath, [bin, 'preview', 'coco', '--in', sample, '--id', '2', '--noise', 'uniform', '--width', '64', '--out', out]);
  expect(stdout).toMatch(/budget fg 8\/255 bg 2\/255; max \|delta\| fg [0-8] bg [0-2]; PSNR \d+\.\d+ dB/);
  expect((await decodeRgb(out)).image.width).toBe(4 * 64);
}, 60_000);
