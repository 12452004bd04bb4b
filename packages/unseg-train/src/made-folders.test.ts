import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { missingFolders, removeMadeFolders } from './made-folders.js';

describe('missingFolders / removeMadeFolders', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-made-folders-'));
  });
  afterEach(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('lists the folders a mkdir -p would make, deepest first, and takes back those left empty', async () => {
    const leaf = path.join(tmp, 'a', 'b', 'c');
    const made = await missingFolders(leaf);
    expect(made).toEqual([leaf, path.join(tmp, 'a', 'b'), path.join(tmp, 'a')]);
    await fs.mkdir(leaf, { recursive: true });
    await removeMadeFolders(made);
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it('stops at the first folder that holds something, and never touches what was there', async () => {
    const made = await missingFolders(path.join(tmp, 'a', 'b'));
    await fs.mkdir(path.join(tmp, 'a', 'b'), { recursive: true });
    await fs.writeFile(path.join(tmp, 'a', 'kept.txt'), 'x');
    await removeMadeFolders(made);
    expect(await fs.readdir(path.join(tmp, 'a'))).toEqual(['kept.txt']);
    expect(await missingFolders(tmp)).toEqual([]);
  });
});
