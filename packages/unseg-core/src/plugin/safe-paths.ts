// Path safety and bounded reading for plugin authors. Every name a plugin takes from an
// annotation file is untrusted input: these helpers are the one place where "stays inside the
// dataset" is decided, so that all plugins refuse the same things with the same words.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UnsegError } from '../errors.js';

/** The outcome of {@link resolveInsideRoot}: the absolute path, or why the name was refused. */
export type ResolvedPath = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/**
 * True when `candidate` is `root` or lies beneath it, comparing resolved paths only (no file
 * system access, symbolic links are not followed; see {@link resolveInsideRoot} for that).
 */
export function isInsideRoot(root: string, candidate: string): boolean {
  const rel = path.relative(path.resolve(root), path.resolve(candidate));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves `name` (taken from an annotation file, so untrusted) against the folder `base`, and
 * refuses it unless it stays inside `root`. Absolute names (POSIX or Windows) and `..` escapes
 * are refused without touching the file system. Unless `followSymlinks`, the real path must also
 * stay inside the real root, so that a symbolic link planted in a dataset cannot make a plugin
 * read `/etc/passwd`. The file must exist and be a regular file.
 *
 * Never throws for a bad name: the reason is returned, ready for a `SampleError` naming the file.
 *
 * @param root the dataset root the reader was opened on
 * @param base the folder `name` is relative to (usually inside `root`)
 * @param name the file name as the annotation gives it
 * @param followSymlinks the reader's `OpenOptions.followSymlinks` (false by default)
 */
export async function resolveInsideRoot(root: string, base: string, name: unknown, followSymlinks = false): Promise<ResolvedPath> {
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: 'file name is missing or not a string' };
  if (name.includes('\0')) return { ok: false, reason: `file name ${JSON.stringify(name)} contains a NUL byte` };
  // Windows-style absolute names are refused everywhere: a dataset made on Windows must not
  // behave differently on Linux.
  if (path.isAbsolute(name) || path.win32.isAbsolute(name)) {
    return { ok: false, reason: `file name ${JSON.stringify(name)} is absolute; refused (must be relative to the dataset)` };
  }
  const absolute = path.resolve(base, name);
  if (!isInsideRoot(root, absolute)) {
    return { ok: false, reason: `file name ${JSON.stringify(name)} leads outside the dataset root; refused` };
  }
  let real: string;
  try {
    real = await fs.realpath(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: `file not found: ${absolute}` };
    return { ok: false, reason: `cannot access ${absolute}: ${(err as Error).message}` };
  }
  if (!followSymlinks) {
    const realRoot = await fs.realpath(root);
    if (!isInsideRoot(realRoot, real)) {
      return {
        ok: false,
        reason: `${absolute} is a symbolic link leading outside the dataset root (to ${real}); refused (the CLI's --follow-symlinks, or OpenOptions.followSymlinks, allows it)`,
      };
    }
  }
  const stat = await fs.stat(real);
  if (!stat.isFile()) return { ok: false, reason: `${absolute} is not a regular file` };
  return { ok: true, path: absolute };
}

/** Default ceiling for one annotation JSON file (500 MiB); see {@link readJsonLimited}. */
export const DEFAULT_MAX_JSON_BYTES = 500 * 1024 * 1024;

/** A JSON file could not be read: too large, not a file, or not JSON. The message is the reason alone. */
export class JsonReadError extends UnsegError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('JSON_READ', reason, options);
  }
}

/**
 * Reads and parses a JSON file whole, after checking its size; rejects with a
 * {@link JsonReadError} whose message is a reason fit for a `SampleError` naming the file.
 *
 * The ceiling exists because the whole file becomes one string: V8 cannot hold a string much
 * over 512 MiB, and the parsed objects take several times the file size, so a 1 GB (possibly
 * hostile) file must be refused up front rather than take the process down. 500 MiB still admits
 * COCO's largest official file (instances_train2017.json, 448 MiB). A streaming parser would lift
 * the limit.
 */
export async function readJsonLimited(file: string, maxBytes: number = DEFAULT_MAX_JSON_BYTES): Promise<unknown> {
  const stat = await fs.stat(file);
  if (!stat.isFile()) throw new JsonReadError('not a regular file');
  if (stat.size > maxBytes) {
    throw new JsonReadError(
      `file is ${stat.size} bytes, over the limit of ${maxBytes} bytes for an annotation JSON (raise maxJsonBytes to read it)`,
    );
  }
  const text = await fs.readFile(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new JsonReadError(`not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** True when `p` is a directory (following links); false when it is missing or anything else. */
export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** True when `p` is a regular file (following links); false when it is missing or anything else. */
export async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * A folder's entry names sorted with {@link compareStrings}, or [] when it cannot be read.
 * `readdir` order depends on the file system; a reader's sample order must not.
 */
export async function listSorted(dir: string): Promise<string[]> {
  try {
    const names = await fs.readdir(dir);
    return names.sort(compareStrings);
  } catch {
    return [];
  }
}

/**
 * Orders strings by UTF-16 code units. Unlike `localeCompare`, the result does not depend on
 * the machine's locale or ICU version, so sample order (hence sharding and resume) is the same
 * everywhere.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
