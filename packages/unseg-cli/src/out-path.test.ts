import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkOutputFile, checkOutputFolder } from './out-path.js';
import { cliInProcess } from './test-helpers/in-process.js';

let tmp: string;
let file: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-out-path-'));
  file = path.join(tmp, 'a-file');
  await fs.writeFile(file, 'not a folder');
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A probe that fails as mkdir does on a read-only mount, or without permission (a test cannot count on either: root passes chmod). */
const failing = (code: string) => async () => {
  throw Object.assign(new Error(code), { code });
};

describe('checkOutputFolder', () => {
  it('refuses a file, a path under a file, and a folder that cannot be written, naming the path', async () => {
    await expect(checkOutputFolder(file, '--out')).rejects.toThrow(`--out ${file}: exists and is not a folder`);
    const under = path.join(file, 'shards', 'x');
    await expect(checkOutputFolder(under, '--out')).rejects.toThrow(`--out ${under}: ${file} is a file, so no folder can be made under it`);
    const fresh = path.join(tmp, 'new', 'shards');
    await expect(checkOutputFolder(fresh, '--out', failing('EROFS'))).rejects.toThrow(`--out ${fresh}: its nearest existing folder ${tmp} is on a read-only file system`);
    await expect(checkOutputFolder(tmp, '--out', failing('EACCES'))).rejects.toThrow(`--out ${tmp}: the folder cannot be written in (EACCES)`);
  });

  it('accepts an existing writable folder and one still to be made, leaving nothing behind', async () => {
    await expect(checkOutputFolder(tmp, '--out')).resolves.toBeUndefined();
    await expect(checkOutputFolder(path.join(tmp, 'new', 'shards'), '--out')).resolves.toBeUndefined();
    expect(await fs.readdir(tmp)).toEqual(['a-file']);
  });
});

describe('checkOutputFile', () => {
  it('accepts a file to replace, and refuses a folder or a file under a file', async () => {
    await expect(checkOutputFile(file, '--out')).resolves.toBeUndefined();
    await expect(checkOutputFile(tmp, '--out')).rejects.toThrow(`--out ${tmp}: is a folder; give a file name`);
    const under = path.join(file, 'p.png');
    await expect(checkOutputFile(under, '--out')).rejects.toThrow(`--out ${under}: ${file} is a file, so no folder can be made under it`);
  });
});

describe('--out that cannot be written', () => {
  // The plugin named does not exist: the --out check must come before it is loaded.
  it('is a usage error of run, run --workers, export and preview, before the plugin loads', async () => {
    const under = path.join(file, 'out');
    for (const args of [
      ['run', 'nosuchformat', '--in', tmp, '--out', file],
      ['run', 'nosuchformat', '--in', tmp, '--out', under, '--workers', '2'],
      ['preview', 'nosuchformat', '--in', tmp, '--id', '0', '--out', path.join(under, 'p.png')],
    ]) {
      const r = await cliInProcess(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^unseg-pipeline: --out .*a-file(: exists and is not a folder|.*: .*a-file is a file, so no folder can be made under it)\n$/);
    }
    const shards = path.join(tmp, 'shards');
    await fs.mkdir(shards);
    await fs.writeFile(path.join(shards, 'manifest.json'), JSON.stringify({ run: { args: { plugin: 'nosuchformat' } } }));
    const exported = await cliInProcess(['export', shards, '--out', file]);
    expect(exported.code).toBe(1);
    expect(exported.stderr).toBe(`unseg-pipeline: --out ${file}: exists and is not a folder\n`);
  });
});
