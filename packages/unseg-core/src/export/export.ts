import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { DatasetPlugin } from '../plugin/types.js';
import { compareStrings, isDirectory } from '../plugin/safe-paths.js';
import { nodeShardFs } from '../shards/fs.js';
import { parseShardName } from '../shards/naming.js';
import { hashFile, readShardStats, type ShardStats } from '../shards/stats.js';
import { readShardRows } from './rows.js';
import { createExportTarget } from './target.js';
import type { ExportRow, ExportSplitResult } from './types.js';

export interface ExportShardsOptions {
  /** The output folder of a run (shards, stats, manifest.json). */
  readonly dir: string;
  /** The export folder: created, and must be empty. */
  readonly out: string;
  /** The plugin of the run (the CLI resolves the one manifest.json names). */
  readonly plugin: DatasetPlugin;
  /**
   * The original dataset. Default: the run's input recorded in manifest.json, when it still
   * exists. `null`: do not use it; rebuild the annotations from the shards alone.
   */
  readonly original?: string | null;
  /** Only these splits (default: every split with shards). */
  readonly splits?: readonly string[];
  /** Follow symbolic links out of the original dataset (as the run did with it). */
  readonly followSymlinks?: boolean;
}

export interface ExportReport {
  readonly out: string;
  readonly original: string | null;
  readonly splits: Readonly<Record<string, ExportSplitResult>>;
  /** Files written, annotations included. */
  readonly files: number;
  /** Shards left out: not committed (no valid stats file). */
  readonly skippedShards: readonly string[];
}

interface ManifestLike {
  run?: { args?: { plugin?: unknown; pluginSource?: unknown; input?: unknown } };
}

/**
 * The plugin manifest.json records for a run, if any, as `resolvePlugin` takes it: the module path
 * or package it was loaded from (`pluginSource`) for a plugin that is not built in, else its name.
 */
export async function manifestPluginName(dir: string): Promise<{ plugin: string | undefined; input: string | undefined }> {
  let m: ManifestLike;
  try {
    m = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')) as ManifestLike;
  } catch (err) {
    throw new ConfigError(`${dir}/manifest.json cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const source = m.run?.args?.pluginSource;
  const plugin = typeof source === 'string' ? source : m.run?.args?.plugin;
  const input = m.run?.args?.input;
  return { plugin: typeof plugin === 'string' ? plugin : undefined, input: typeof input === 'string' ? input : undefined };
}

/**
 * Writes the protected dataset held in a run's shards back in the input's own layout, through
 * the plugin's `export` hook. Only committed shards are read, and each is checked against its
 * stats file's sha256 first, so a shard changed after the run is refused rather than exported.
 */
export async function exportShards(options: ExportShardsOptions): Promise<ExportReport> {
  const dir = path.resolve(options.dir);
  const { plugin } = options;
  if (typeof plugin.export !== 'function') {
    throw new ConfigError(`plugin ${plugin.name} ${plugin.version} has no export hook: it cannot write its format back`);
  }
  const recorded = await manifestPluginName(dir);
  let original: string | undefined;
  if (options.original === null) original = undefined;
  else if (options.original !== undefined) {
    original = path.resolve(options.original);
    if (!(await isDirectory(original))) throw new ConfigError(`original dataset ${original} is not a folder`);
  } else if (recorded.input !== undefined && (await isDirectory(recorded.input))) {
    original = recorded.input;
  }

  const names = (await fs.readdir(dir)).sort(compareStrings);
  const bySplit = new Map<string, { file: string; stats: ShardStats }[]>();
  const skippedShards: string[] = [];
  for (const name of names) {
    const parsed = parseShardName(name);
    if (!parsed || parsed.isStats) continue;
    if (options.splits && !options.splits.includes(parsed.split)) continue;
    const stats = names.includes(`${name}.stats.json`) ? await readShardStats(nodeShardFs, path.join(dir, `${name}.stats.json`)) : undefined;
    if (!stats || stats.file !== name) {
      skippedShards.push(name);
      continue;
    }
    const { sha256, bytes } = await hashFile(nodeShardFs, path.join(dir, name));
    if (sha256 !== stats.sha256 || bytes !== stats.bytes) {
      throw new ConfigError(`${name} differs from its stats file (sha256/size): it was changed after the run; refusing to export it`);
    }
    const list = bySplit.get(parsed.split) ?? [];
    list.push({ file: name, stats });
    bySplit.set(parsed.split, list);
  }
  if (bySplit.size === 0) throw new ConfigError(`${dir} holds no committed shards${options.splits ? ` for ${options.splits.join(', ')}` : ''}`);

  const target = await createExportTarget(options.out, original, { followSymlinks: options.followSymlinks === true });
  const splits: Record<string, ExportSplitResult> = {};
  for (const [split, shards] of [...bySplit].sort(([a], [b]) => compareStrings(a, b))) {
    // Workers' shards interleave by position range; the hook sees one ordered stream.
    shards.sort((a, b) => a.stats.positions.start - b.stats.positions.start);
    async function* rows(): AsyncGenerator<ExportRow> {
      for (const s of shards) {
        for await (const row of readShardRows(path.join(dir, s.file), s.stats.format)) {
          if (row.split !== split) throw new ConfigError(`${s.file}: row ${row.position} says split "${row.split}", the file name "${split}"`);
          yield row;
        }
      }
    }
    splits[split] = await plugin.export({ split, rows: rows(), original, out: target });
  }
  return { out: target.root, original: original ?? null, splits, files: target.written(), skippedShards };
}
