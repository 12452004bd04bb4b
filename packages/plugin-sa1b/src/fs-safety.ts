// Path safety and bounded JSON reading. Each plugin carries its own copy of this file: plugins
// may depend only on @unseg/core's public API, never on each other.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export type Resolved = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves `name` (taken from an annotation file, so untrusted) against `base`, and refuses it
 * unless it stays inside `root`: absolute names and `..` escapes are refused without touching
 * the file system. Unless `followSymlinks`, the real path must also stay inside the real root,
 * so a symlink planted in the dataset cannot make us read /etc/passwd. The file must exist and
 * be a regular file.
 */
export async function resolveInsideRoot(
  root: string,
  base: string,
  name: unknown,
  followSymlinks: boolean,
): Promise<Resolved> {
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: 'file name is missing or not a string' };
  if (name.includes('\0')) return { ok: false, reason: `file name ${JSON.stringify(name)} contains a NUL byte` };
  // Windows-style absolute names are refused everywhere: a dataset made on Windows must not
  // behave differently on Linux.
  if (path.isAbsolute(name) || path.win32.isAbsolute(name)) {
    return { ok: false, reason: `file name ${JSON.stringify(name)} is absolute; refused (must be relative to the dataset)` };
  }
  const absolute = path.resolve(base, name);
  if (!isInside(root, absolute)) {
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
    if (!isInside(realRoot, real)) {
      return {
        ok: false,
        reason: `${absolute} is a symbolic link leading outside the dataset root (to ${real}); refused (set followSymlinks to allow)`,
      };
    }
  }
  const stat = await fs.stat(real);
  if (!stat.isFile()) return { ok: false, reason: `${absolute} is not a regular file` };
  return { ok: true, path: absolute };
}

/** Default ceiling for one annotation JSON file; see readJsonLimited. */
export const DEFAULT_MAX_JSON_BYTES = 500 * 1024 * 1024;

export class JsonReadError extends Error {}

/**
 * Reads and parses a JSON file whole, after checking its size. The ceiling exists because the
 * whole file becomes one string: V8 cannot hold a string much over 512 MiB, and the parsed
 * objects take several times the file size, so a 1 GB (possibly hostile) file must be refused
 * up front rather than take the process down. 500 MiB still admits COCO's largest official
 * file (instances_train2017.json, 448 MiB). A streaming parser would lift the limit.
 */
export async function readJsonLimited(file: string, maxBytes: number): Promise<unknown> {
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
    throw new JsonReadError(`not valid JSON: ${(err as Error).message}`);
  }
}

export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

export async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Directory entries sorted by name with a locale-independent comparison, so order is the same everywhere. */
export async function listSorted(dir: string): Promise<string[]> {
  try {
    const names = await fs.readdir(dir);
    return names.sort(compareStrings);
  } catch {
    return [];
  }
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

export function asBbox(v: unknown): readonly [number, number, number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 4) return undefined;
  if (!v.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  return [v[0] as number, v[1] as number, v[2] as number, v[3] as number];
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
