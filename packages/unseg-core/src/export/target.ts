import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UnsegError } from '../errors.js';
import { isInsideRoot, resolveInsideRoot } from '../plugin/safe-paths.js';
import type { ExportTarget } from './types.js';

/** A path taken from a shard (or built from one) would land outside the export folder, or clash. */
export class ExportPathError extends UnsegError {
  constructor(message: string) {
    super('EXPORT_PATH', message);
  }
}

/**
 * Checks a relative output path and returns it resolved under `root`. The rules are stricter
 * than "stays inside after resolving": a shard is untrusted input, and a name such as `a/../b`
 * or `C:\x` is never produced by unseg itself, so it is refused rather than normalised.
 */
export function checkRelativePath(root: string, rel: unknown): string {
  if (typeof rel !== 'string' || rel.length === 0) throw new ExportPathError(`output path ${JSON.stringify(rel)} is empty or not a string`);
  const shown = JSON.stringify(rel);
  if (rel.includes('\0')) throw new ExportPathError(`output path ${shown} contains a NUL byte`);
  if (rel.includes('\\')) throw new ExportPathError(`output path ${shown} contains a backslash`);
  if (path.posix.isAbsolute(rel) || path.win32.isAbsolute(rel)) throw new ExportPathError(`output path ${shown} is absolute`);
  if (rel.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new ExportPathError(`output path ${shown} has an empty, "." or ".." segment`);
  }
  const absolute = path.resolve(root, ...rel.split('/'));
  if (!isInsideRoot(root, absolute) || absolute === path.resolve(root)) throw new ExportPathError(`output path ${shown} leads outside ${root}`);
  return absolute;
}

/**
 * The export folder. It must be empty (or absent): every file is then created by this process
 * with O_EXCL, so a planted symbolic link or a second row naming the same file fails loudly.
 */
export async function createExportTarget(
  outDir: string,
  original: string | undefined,
  options: { readonly followSymlinks?: boolean } = {},
): Promise<ExportTarget & { readonly written: () => number }> {
  const root = path.resolve(outDir);
  await fs.mkdir(root, { recursive: true });
  const existing = await fs.readdir(root);
  if (existing.length > 0) throw new ExportPathError(`${root} is not empty: export into a new or empty folder`);
  const realRoot = await fs.realpath(root);
  let written = 0;

  async function prepare(rel: string): Promise<string> {
    const absolute = checkRelativePath(root, rel);
    const dir = path.dirname(absolute);
    await fs.mkdir(dir, { recursive: true });
    // A folder swapped for a link after the checks above would still be caught here.
    if (!isInsideRoot(realRoot, await fs.realpath(dir))) throw new ExportPathError(`output path ${JSON.stringify(rel)}: its folder leads outside ${root}`);
    return absolute;
  }

  async function create(absolute: string, rel: string, data: Uint8Array | string): Promise<string> {
    try {
      await fs.writeFile(absolute, data, { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ExportPathError(`output path ${JSON.stringify(rel)} is written twice (two rows name the same file)`);
      throw err;
    }
    written++;
    return absolute;
  }

  async function readOriginal(originalRel: string): Promise<Buffer> {
    if (original === undefined) throw new ExportPathError(`cannot read ${originalRel}: the original dataset is not available`);
    if (typeof originalRel !== 'string' || originalRel.includes('\\')) throw new ExportPathError(`original path ${JSON.stringify(originalRel)} refused`);
    const src = await resolveInsideRoot(original, original, originalRel, options.followSymlinks === true);
    if (!src.ok) throw new ExportPathError(`original ${originalRel}: ${src.reason}`);
    return fs.readFile(src.path);
  }

  return {
    root,
    written: () => written,
    async write(rel, data) {
      return create(await prepare(rel), rel, data);
    },
    readOriginal,
    async copyFromOriginal(originalRel, rel) {
      return create(await prepare(rel), rel, await readOriginal(originalRel));
    },
  };
}
