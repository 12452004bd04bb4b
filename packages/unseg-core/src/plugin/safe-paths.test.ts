import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonReadError, UnsegError, compareStrings, isInsideRoot, listSorted, readJsonLimited, resolveInsideRoot } from '../index.js';

async function dataset(): Promise<{ root: string; outside: string }> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'safe-paths-'));
  const root = path.join(base, 'data');
  await fs.mkdir(path.join(root, 'images'), { recursive: true });
  await fs.writeFile(path.join(root, 'images', 'a.jpg'), 'a');
  const outside = path.join(base, 'secret.txt');
  await fs.writeFile(outside, 'secret');
  return { root, outside };
}

describe('resolveInsideRoot', () => {
  it('resolves a name relative to its base folder', async () => {
    const { root } = await dataset();
    expect(await resolveInsideRoot(root, path.join(root, 'images'), 'a.jpg', false)).toEqual({ ok: true, path: path.join(root, 'images', 'a.jpg') });
    // `..` that stays inside the root is fine.
    expect(await resolveInsideRoot(root, path.join(root, 'images'), '../images/a.jpg')).toMatchObject({ ok: true });
  });

  it.each([
    ['/etc/passwd', /is absolute/],
    ['C:\\Windows\\win.ini', /is absolute/],
    ['../../secret.txt', /leads outside the dataset root/],
    ['a\0.jpg', /NUL byte/],
    ['', /missing or not a string/],
    [42, /missing or not a string/],
    ['missing.jpg', /file not found/],
  ])('refuses %j', async (name, reason) => {
    const { root } = await dataset();
    const r = await resolveInsideRoot(root, path.join(root, 'images'), name, true);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it('refuses a symbolic link out of the root unless followSymlinks', async () => {
    const { root, outside } = await dataset();
    await fs.symlink(outside, path.join(root, 'images', 'b.jpg'));
    const refused = await resolveInsideRoot(root, path.join(root, 'images'), 'b.jpg', false);
    expect(!refused.ok && refused.reason).toMatch(/symbolic link leading outside the dataset root/);
    expect(await resolveInsideRoot(root, path.join(root, 'images'), 'b.jpg', true)).toEqual({ ok: true, path: path.join(root, 'images', 'b.jpg') });
  });

  it('accepts a symbolic link that stays inside, and a root reached through a link', async () => {
    const { root } = await dataset();
    await fs.symlink(path.join(root, 'images', 'a.jpg'), path.join(root, 'c.jpg'));
    expect(await resolveInsideRoot(root, root, 'c.jpg')).toMatchObject({ ok: true });
    const linkedRoot = `${root}-link`;
    await fs.symlink(root, linkedRoot);
    expect(await resolveInsideRoot(linkedRoot, path.join(linkedRoot, 'images'), 'a.jpg')).toMatchObject({ ok: true });
  });

  it('refuses a folder', async () => {
    const { root } = await dataset();
    const r = await resolveInsideRoot(root, root, 'images');
    expect(!r.ok && r.reason).toMatch(/not a regular file/);
  });
});

describe('isInsideRoot', () => {
  it('compares resolved paths, not prefixes', () => {
    expect(isInsideRoot('/data/x', '/data/x/a/b')).toBe(true);
    expect(isInsideRoot('/data/x', '/data/x')).toBe(true);
    expect(isInsideRoot('/data/x', '/data/xy/a')).toBe(false);
    expect(isInsideRoot('/data/x', '/data/x/../y')).toBe(false);
  });
});

describe('readJsonLimited', () => {
  it('parses, and refuses files over the limit and invalid JSON with a JsonReadError', async () => {
    const { root } = await dataset();
    const file = path.join(root, 'a.json');
    await fs.writeFile(file, JSON.stringify({ a: [1, 2] }));
    expect(await readJsonLimited(file)).toEqual({ a: [1, 2] });
    await expect(readJsonLimited(file, 5)).rejects.toThrow(/bytes, over the limit of 5 bytes/);
    await fs.writeFile(file, '{"a":');
    const err = await readJsonLimited(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JsonReadError);
    expect(err).toBeInstanceOf(UnsegError);
    expect((err as Error).message).toMatch(/^not valid JSON/);
    await expect(readJsonLimited(root)).rejects.toThrow('not a regular file');
  });
});

describe('listSorted and compareStrings', () => {
  it('sort by code unit, independent of locale, and give [] for a missing folder', async () => {
    const { root } = await dataset();
    for (const n of ['b', 'B', 'a10', 'a2', 'é']) await fs.writeFile(path.join(root, n), '');
    expect(await listSorted(root)).toEqual(['B', 'a10', 'a2', 'b', 'images', 'é']);
    expect(await listSorted(path.join(root, 'nope'))).toEqual([]);
    expect(['b', 'a'].sort(compareStrings)).toEqual(['a', 'b']);
  });
});
