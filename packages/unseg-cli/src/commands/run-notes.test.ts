import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliInProcess } from '../test-helpers/in-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sa1b = path.resolve(here, '../../../plugin-sa1b/src/test-fixtures/sa1b');
const coco = path.resolve(here, '../../../../samples/coco-facades-mini');

describe('a rerun of a folder whose earlier run had failures', () => {
  it('exits 2 and says so, although it had nothing left to do', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-rerun-'));
    try {
      const data = path.join(tmp, 'coco');
      await fs.cp(coco, data, { recursive: true });
      const json = JSON.parse(await fs.readFile(path.join(data, 'train/_annotations.coco.json'), 'utf8')) as { images: { file_name: string }[] };
      await fs.writeFile(path.join(data, 'train', json.images[0]!.file_name), 'not an image');
      const args = ['run', 'coco', '--in', data, '--out', path.join(tmp, 'out'), '--noise', 'uniform', '--progress', 'none'];
      expect((await cliInProcess(args)).code).toBe(2);
      const rerun = await cliInProcess(args);
      expect(rerun.code).toBe(2);
      expect(rerun.stderr).toMatch(/0 failed, 4 already done[\s\S]*and 1 failed in an earlier run of this folder/);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('run notes', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-run-notes-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('says that a class-wise code on a dataset with one class is one pattern on every object, and only then', async () => {
    const one = await cliInProcess(['run', 'sa1b', '--in', sa1b, '--out', path.join(tmp, 'a'), '--noise', 'classwise', '--limit', '1', '--progress', 'none']);
    expect(one.code).toBe(0);
    expect(one.stderr).toMatch(/note: --noise classwise codes each class apart, but .* has one category: every object gets the same pattern/);
    const many = await cliInProcess(['run', 'coco', '--in', coco, '--out', path.join(tmp, 'b'), '--noise', 'classwise', '--limit', '1', '--progress', 'none']);
    expect(many.code).toBe(0);
    expect(many.stderr).not.toMatch(/codes each class apart/);
    // Two class-wise runs of 1024-px images through Jest's transpiled sources: about 50 s alone,
    // over 60 s on a loaded machine (1 s each from the built CLI).
  }, 180_000);

  it('warns when the prompt covered no pixel of any published image, and only then', async () => {
    // "shop" is one of the sample's categories, but none of its four images has a shop.
    const none = await cliInProcess(['run', 'coco', '--in', coco, '--out', path.join(tmp, 'c'), '--noise', 'uniform', '--prompt', 'shop', '--progress', 'none']);
    expect(none.code).toBe(0);
    expect(none.stderr).toMatch(/warning: the prompt \(categories:shop\) covered no pixel of the 4 image\(s\) published by this run: they carry only the background budget \(2\/255\)/);
    const some = await cliInProcess(['run', 'coco', '--in', coco, '--out', path.join(tmp, 'd'), '--noise', 'uniform', '--prompt', 'window', '--progress', 'none']);
    expect(some.code).toBe(0);
    expect(some.stderr).not.toMatch(/covered no pixel/);
  }, 60_000);
});
