import path from 'node:path';
import { StringFingerprints } from './fingerprints.js';

/** Source path relative to the dataset root, with forward slashes; the bare path when outside it. */
export function relativeSourcePath(file: string, root: string | undefined): string {
  if (!root) return file.split(path.sep).join('/');
  const rel = path.relative(root, file);
  return (rel.startsWith('..') || path.isAbsolute(rel) ? file : rel).split(path.sep).join('/');
}

/** A path segment reduced to letters (with their combining marks) and digits of any script, `.`, `_` and `-`. */
const safeSegment = (part: string): string => part.replace(/[^\p{L}\p{M}\p{N}._-]/gu, '_');

/**
 * The published file name: the source's relative path with the new extension, reduced to safe
 * characters so no row can name a file outside the folder it is exported to. Letters of every
 * script are kept (a dataset named in Chinese would otherwise lose every name of one length).
 */
export function outputImageName(sourcePath: string, id: string, extension: string): string {
  const base = sourcePath.length > 0 ? sourcePath.replace(/\.[^./]*$/, '') : id;
  const safe = base
    .split('/')
    .filter((part) => part !== '' && part !== '.' && part !== '..')
    .map(safeSegment)
    .join('/');
  return `${safe.length > 0 ? safe : safeSegment(id)}.${extension}`;
}

/**
 * The published names of one split, unique: `x.jpg` and `x.png` both become `x.png`, and two
 * names that differ only in characters the name cannot keep meet too. A later sample whose name
 * is taken gets its id added (`x~<id>.png`), then its position; export writes each row to its
 * own file. Decided at every position, so the names do not depend on the number of workers.
 */
export class OutputNames {
  private readonly taken = new StringFingerprints();

  name(sourcePath: string, id: string, extension: string, position: number): string {
    const first = outputImageName(sourcePath, id, extension);
    if (this.taken.add(first)) return first;
    const stem = first.slice(0, -(extension.length + 1));
    const withId = `${stem}~${safeSegment(id)}.${extension}`;
    if (this.taken.add(withId)) return withId;
    const withPosition = `${stem}~${position}.${extension}`;
    this.taken.add(withPosition);
    return withPosition;
  }
}
