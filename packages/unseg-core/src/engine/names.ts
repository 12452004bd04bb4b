import path from 'node:path';

/** Source path relative to the dataset root, with forward slashes; the bare path when outside it. */
export function relativeSourcePath(file: string, root: string | undefined): string {
  if (!root) return file.split(path.sep).join('/');
  const rel = path.relative(root, file);
  return (rel.startsWith('..') || path.isAbsolute(rel) ? file : rel).split(path.sep).join('/');
}

/**
 * The published file name: the source's relative path with the new extension, reduced to safe
 * characters so no row can name a file outside the folder it is exported to.
 */
export function outputImageName(sourcePath: string, id: string, extension: string): string {
  const base = sourcePath.length > 0 ? sourcePath.replace(/\.[^./]*$/, '') : id;
  const safe = base
    .split('/')
    .filter((part) => part !== '' && part !== '.' && part !== '..')
    .map((part) => part.replace(/[^A-Za-z0-9._-]/g, '_'))
    .join('/');
  return `${safe.length > 0 ? safe : id.replace(/[^A-Za-z0-9._-]/g, '_')}.${extension}`;
}
