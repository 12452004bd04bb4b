import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { exists } from './checkpoint-dir.js';

/** `dir` and those of its ancestors that do not exist yet, deepest first: what a mkdir -p of it would make. */
export async function missingFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (await exists(d)) return missing;
    missing.push(d);
    if (path.dirname(d) === d) return missing;
  }
}

/**
 * Takes back the folders a run made (`missingFolders`, deepest first) while they are empty, so
 * that a run refused before it wrote anything leaves no trace. rmdir stops at the first folder
 * that is not empty, so nothing a run wrote is ever touched.
 */
export async function removeMadeFolders(made: readonly string[]): Promise<void> {
  for (const dir of made) if (!(await rmdir(dir).then(() => true, () => false))) break;
}
