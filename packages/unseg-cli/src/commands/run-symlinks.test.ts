import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliInProcess } from '../test-helpers/in-process.js';

const coco = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../samples/coco-facades-mini');

describe('a dataset whose files are links into a store outside it (a Hugging Face or DVC cache)', () => {
  it('is refused per image by default and published with --follow-symlinks', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-links-'));
    try {
      const data = path.join(tmp, 'snapshot');
      const blobs = path.join(tmp, 'blobs');
      await fs.cp(coco, data, { recursive: true });
      await fs.mkdir(blobs);
      const json = JSON.parse(await fs.readFile(path.join(data, 'train/_annotations.coco.json'), 'utf8')) as { images: { file_name: string }[] };
      for (const [i, image] of json.images.entries()) {
        const file = path.join(data, 'train', image.file_name);
        await fs.rename(file, path.join(blobs, `blob${i}`));
        await fs.symlink(path.join(blobs, `blob${i}`), file);
      }
      const args = ['run', 'coco', '--in', data, '--noise', 'uniform', '--progress', 'none'];
      const refused = await cliInProcess([...args, '--out', path.join(tmp, 'a')]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/symbolic link leading outside the dataset root/);
      const followed = await cliInProcess([...args, '--out', path.join(tmp, 'b'), '--follow-symlinks']);
      expect(followed.code).toBe(0);
      expect(followed.stderr).toMatch(/done: 4 images published, 0 failed/);
      const verified = await cliInProcess(['verify', path.join(tmp, 'b'), '--against', data, '--follow-symlinks']);
      expect(verified.code).toBe(0);
      // COCO's export reads the annotation JSON, not the images: it needs no links followed.
      const exported = await cliInProcess(['export', path.join(tmp, 'b'), '--out', path.join(tmp, 'e'), '--follow-symlinks']);
      expect(exported.code).toBe(0);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
