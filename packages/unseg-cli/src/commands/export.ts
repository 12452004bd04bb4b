import path from 'node:path';
import { ConfigError, exportShards, manifestPluginName } from '@unseg/core';
import { checkOutputFolder } from '../out-path.js';
import { resolvePlugin } from '../plugins.js';
import { checkShardFolder, refuseUnmergedWorkers } from '../shard-folder.js';

export interface ExportCommandOptions {
  out: string;
  plugin?: string;
  original?: string;
  fromShards?: boolean;
  /** Follow symbolic links leading outside the original dataset folder. */
  followSymlinks?: boolean;
  split?: string[];
  json?: boolean;
}

/**
 * `unseg-pipeline export <shards> --out <dir>`: the protected dataset in the input's own layout,
 * so that existing loaders run on it with only a path changed.
 */
export async function exportCommand(dir: string, o: ExportCommandOptions): Promise<number> {
  const shards = path.resolve(dir);
  if (o.fromShards && o.original !== undefined) throw new ConfigError('give --original or --from-shards, not both');
  await checkShardFolder(shards);
  await refuseUnmergedWorkers(shards);
  await checkOutputFolder(o.out, '--out');
  const recorded = await manifestPluginName(shards);
  const spec = o.plugin ?? recorded.plugin;
  if (!spec) throw new ConfigError(`${shards}/manifest.json does not name the plugin of the run: pass --plugin`);
  // coco-panoptic is the coco plugin preferring panoptic files: resolve it as itself when built in.
  const plugin = await resolvePlugin(spec);
  const report = await exportShards({
    dir: shards,
    out: o.out,
    plugin,
    original: o.fromShards ? null : o.original,
    followSymlinks: o.followSymlinks === true,
    ...(o.split ? { splits: o.split } : {}),
  });
  if (o.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(`export: ${plugin.name} ${shards} -> ${report.out}`);
  log(`annotations from: ${report.original ?? 'the shards (rebuilt)'}`);
  for (const [split, r] of Object.entries(report.splits)) {
    log(`  ${split}: ${r.images} images, annotations from ${r.annotations}${r.annotationFiles.length ? ` (${r.annotationFiles.join(', ')})` : ''}`);
    for (const n of r.notes) log(`    note: ${n}`);
  }
  for (const s of report.skippedShards) log(`  skipped ${s}: not committed (no valid stats file)`);
  log(`${report.files} files written`);
  return 0;
}
