import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, parseShardName } from '@unseg/core';

const MANIFEST = /^manifest(-w\d+of\d+)?\.json$/;

/**
 * Checks that `dir`, given to `inspect`, `verify` or `export` as a run's output, is a folder
 * that holds one: a missing or mistyped path would otherwise read as an empty dataset (0 rows)
 * or as a manifest without a plugin. Uncommitted shards count: a killed run's folder is still
 * output, and the command says what is wrong with it.
 */
export async function checkShardFolder(dir: string): Promise<void> {
  const folder = path.resolve(dir);
  const st = await fs.stat(folder).catch(() => undefined);
  if (!st) throw new ConfigError(`${folder}: no such folder (give the --out folder of a run)`);
  if (!st.isDirectory()) throw new ConfigError(`${folder} is a file, not a folder of shards (give the --out folder of a run)`);
  const files = await fs.readdir(folder);
  if (!files.some((f) => parseShardName(f) !== undefined || MANIFEST.test(f))) {
    throw new ConfigError(`${folder} holds no unseg output: no shards and no manifest.json (give the --out folder of a run)`);
  }
}

/**
 * A folder that workers wrote into holds one manifest per worker until `merge-manifest` makes
 * the manifest.json that verify and export read: say so, rather than that no plugin or budget is recorded.
 */
export async function refuseUnmergedWorkers(dir: string): Promise<void> {
  const files = await fs.readdir(dir);
  if (files.includes('manifest.json')) return;
  const workers = files.filter((f) => /^manifest-w\d+of\d+\.json$/.test(f)).sort();
  if (workers.length === 0) return;
  throw new ConfigError(
    `${dir} holds worker manifests (${workers.slice(0, 3).join(', ')}${workers.length > 3 ? ', ...' : ''}) but no manifest.json: ` +
      `merge them first with \`unseg-pipeline merge-manifest ${dir} --out ${dir}\``,
  );
}
