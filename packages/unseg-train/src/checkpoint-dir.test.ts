import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkpointExists, nextOf, previousOf, recoverCheckpoint, replaceCheckpoint, syncTree } from './checkpoint-dir.js';

let root: string;
let dir: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'unseg-ckpt-'));
  dir = path.join(root, 'checkpoint');
});
afterEach(() => rm(root, { recursive: true, force: true }));

const writeState = (epoch: number) => async (into: string) => {
  await mkdir(path.join(into, 'adam'), { recursive: true });
  await writeFile(path.join(into, 'state.json'), JSON.stringify({ epoch }));
  await writeFile(path.join(into, 'adam', 'm.bin'), Buffer.from([epoch]));
};
const epochIn = async (d: string) => (JSON.parse(await readFile(path.join(d, 'state.json'), 'utf8')) as { epoch: number }).epoch;

describe('replaceCheckpoint', () => {
  it('puts the new folder in place and leaves no .next or .previous', async () => {
    await replaceCheckpoint(dir, writeState(1));
    await replaceCheckpoint(dir, writeState(2));
    expect(await epochIn(dir)).toBe(2);
    expect((await readdir(root)).sort()).toEqual(['checkpoint']);
  });

  it('a crash between the renames is completed by recoverCheckpoint with the new checkpoint', async () => {
    await replaceCheckpoint(dir, writeState(1));
    await expect(replaceCheckpoint(dir, writeState(2), () => Promise.reject(new Error('killed')))).rejects.toThrow('killed');
    expect((await readdir(root)).sort()).toEqual(['checkpoint.next', 'checkpoint.previous']);
    // Under neither's own name, a checkpoint is still there to resume (or to refuse to start over).
    expect(await checkpointExists(dir)).toBe(true);
    expect(await checkpointExists(path.join(root, 'other'))).toBe(false);
    expect(await recoverCheckpoint(dir)).toMatch(/completed the interrupted swap/);
    expect(await epochIn(dir)).toBe(2);
    expect((await readdir(root)).sort()).toEqual(['checkpoint']);
  });

  it('a crash while writing keeps the old checkpoint', async () => {
    await replaceCheckpoint(dir, writeState(1));
    await expect(
      replaceCheckpoint(dir, async (into) => {
        await writeState(2)(into);
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(await recoverCheckpoint(dir)).toMatch(/removed a half-written checkpoint/);
    expect(await epochIn(dir)).toBe(1);
  });
});

describe('recoverCheckpoint', () => {
  it('does nothing when only the checkpoint is there', async () => {
    await writeState(3)(dir);
    expect(await recoverCheckpoint(dir)).toBeUndefined();
    expect(await epochIn(dir)).toBe(3);
  });

  it('restores .previous when the crash came after it was moved aside and .next is gone', async () => {
    await writeState(4)(previousOf(dir));
    expect(await recoverCheckpoint(dir)).toMatch(/restored/);
    expect(await epochIn(dir)).toBe(4);
  });

  it('drops a lone .next: a first checkpoint that may be half-written', async () => {
    await writeState(5)(nextOf(dir));
    expect(await recoverCheckpoint(dir)).toMatch(/half-written first checkpoint/);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('syncTree', () => {
  it('walks nested folders and fails on a missing one', async () => {
    await writeState(6)(dir);
    await expect(syncTree(dir)).resolves.toBeUndefined();
    await expect(syncTree(path.join(root, 'missing'))).rejects.toThrow(/ENOENT/);
  });
});
