import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliInProcess } from '../test-helpers/in-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sa1b = path.resolve(here, '../../../plugin-sa1b/src/test-fixtures/sa1b');
const coco = path.resolve(here, '../../../../samples/coco-facades-mini');

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
  }, 60_000);
});
