import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createExportTarget } from './target.js';

describe('the export target reading the original', () => {
  it('refuses a link out of the original dataset unless links are followed, as the run did', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-target-'));
    try {
      const original = path.join(tmp, 'dataset');
      await fs.mkdir(path.join(original, 'annotations'), { recursive: true });
      await fs.writeFile(path.join(tmp, 'blob'), 'class indices');
      await fs.symlink(path.join(tmp, 'blob'), path.join(original, 'annotations', 'a.png'));
      const strict = await createExportTarget(path.join(tmp, 'out1'), original);
      await expect(strict.readOriginal('annotations/a.png')).rejects.toThrow(/symbolic link leading outside the dataset root/);
      const following = await createExportTarget(path.join(tmp, 'out2'), original, { followSymlinks: true });
      expect(Buffer.from(await following.readOriginal('annotations/a.png')).toString()).toBe('class indices');
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });
});
