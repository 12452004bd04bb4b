import path from 'node:path';
import { ConfigError, formatVerifyReport, manifestPluginName, verifyShards } from '@unseg/core';
import { parseEps } from '../options.js';
import { resolvePlugin } from '../plugins.js';
import { datasetRoot } from '../dataset-root.js';
import { checkShardFolder, refuseUnmergedWorkers } from '../shard-folder.js';

export interface VerifyCommandOptions {
  /** Follow symbolic links leading outside the dataset folder. */
  followSymlinks?: boolean;
  against: string;
  plugin?: string;
  epsFg?: string;
  epsBg?: string;
  json?: boolean;
}

/**
 * `unseg-pipeline verify <shards> --against <dataset>`: what a publisher runs before publishing.
 * Exit 0 when nothing is wrong, 2 when anything is (the table names each problem).
 */
export async function verifyCommand(dir: string, o: VerifyCommandOptions): Promise<number> {
  const shards = path.resolve(dir);
  await checkShardFolder(shards);
  await refuseUnmergedWorkers(shards);
  // The plugin the run used is recorded in its manifest; --plugin overrides it.
  let recorded: string | undefined;
  try {
    recorded = (await manifestPluginName(shards)).plugin;
  } catch {
    // verifyShards reports a missing or broken manifest as a problem.
  }
  const spec = o.plugin ?? recorded;
  if (!spec) throw new ConfigError(`${shards}/manifest.json does not name the plugin of the run: pass --plugin`);
  const plugin = await resolvePlugin(spec === 'coco-panoptic' ? 'coco' : spec);
  const root = await datasetRoot(plugin, o.against, '--against');
  // A region not given keeps the manifest's budget.
  const budget = {
    ...(o.epsFg !== undefined ? { epsFg: parseEps(o.epsFg, '--eps-fg') } : {}),
    ...(o.epsBg !== undefined ? { epsBg: parseEps(o.epsBg, '--eps-bg') } : {}),
  };
  const report = await verifyShards({ dir: shards, reader: await plugin.open(root, { followSymlinks: o.followSymlinks === true }), budget });
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatVerifyReport(report)}\n`);
  return report.problems.length > 0 ? 2 : 0;
}
