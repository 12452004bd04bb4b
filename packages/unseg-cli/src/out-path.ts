import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '@unseg/core';

/** Rejects unless this process can create a folder in `folder` (a test may fake it). */
export type WriteProbe = (folder: string) => Promise<void>;

/**
 * Makes and removes a folder of its own: only trying shows every reason a mkdir fails (a
 * read-only mount, permissions, sysfs refusing even root, a full disk), where fs.access
 * passes root through.
 */
const probeByMaking: WriteProbe = async (folder) => {
  await fs.rmdir(await fs.mkdtemp(path.join(folder, '.unseg-write-probe-')));
};

async function statOrMissing(p: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(p);
  } catch (error) {
    // ENOTDIR: a file stands where a folder of the path should be; the walk up finds which.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * Checks that an output folder can be made and written, before a plugin or a noise source is
 * loaded: otherwise mkdir or the lock file fails minutes later with a bare EEXIST, ENOTDIR or
 * EROFS. The folder must be a folder if it exists; else its nearest existing ancestor must be
 * a folder this process can make a folder in (on a read-only file system it cannot).
 */
export async function checkOutputFolder(out: string, flag: string, probe: WriteProbe = probeByMaking): Promise<void> {
  const target = path.resolve(out);
  await checkWritableFolder(target, target, flag, probe);
}

/**
 * The same for an output file (preview's PNG): it may exist and is then replaced, but it must
 * not be a folder, and its folder must be one that can be made and written.
 */
export async function checkOutputFile(file: string, flag: string, probe: WriteProbe = probeByMaking): Promise<void> {
  const target = path.resolve(file);
  if ((await statOrMissing(target))?.isDirectory()) {
    throw new ConfigError(`${flag} ${target}: is a folder; give a file name such as ${path.join(target, 'preview.png')}`);
  }
  await checkWritableFolder(path.dirname(target), target, flag, probe);
}

/** `folder` must be, or be makeable as, a writable folder; messages name `target`, the path as given to `flag`. */
async function checkWritableFolder(folder: string, target: string, flag: string, probe: WriteProbe): Promise<void> {
  let nearest = folder;
  let st = await statOrMissing(nearest);
  while (!st) {
    const parent = path.dirname(nearest);
    if (parent === nearest) return;
    nearest = parent;
    st = await statOrMissing(nearest);
  }
  if (!st.isDirectory()) {
    throw new ConfigError(`${flag} ${target}: ${nearest === target ? 'exists and is not a folder' : `${nearest} is a file, so no folder can be made under it`}`);
  }
  try {
    await probe(nearest);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EROFS' ? 'is on a read-only file system' : `cannot be written in (${code ?? (error as Error).message})`;
    throw new ConfigError(`${flag} ${target}: ${nearest === target ? 'the folder' : `its nearest existing folder ${nearest}`} ${why}`);
  }
}
