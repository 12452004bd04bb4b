import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh empty temporary folder whose name starts with `prefix`. */
export async function tempDir(prefix = 'unseg-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Writes `value` as JSON, creating the folders on the way: for building bad-input fixtures. */
export async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(value));
}

/**
 * Finds a real dataset kept outside the repository, at `shared/data/<name>` beside `from` or
 * beside any folder above it (CI keeps them at `../shared/data` next to the checkout). Returns
 * undefined when there is none, so that a test can skip instead of fail.
 */
export function findSharedData(name: string, from: string = process.cwd()): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, 'shared', 'data', name);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
