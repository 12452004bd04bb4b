import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, formatVerifyReport, manifestPluginName, verifyShards, type NoiseBudget } from '@unseg/core';
import { parseEps } from '../options.js';
import { resolvePlugin } from '../plugins.js';

export interface VerifyCommandOptions {
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
  // The plugin the run used is recorded in its manifest; --plugin overrides it.
  let recorded: string | undefined;
  let recordedBudget: { epsFg?: unknown; epsBg?: unknown } | undefined;
  try {
    const m = JSON.parse(await readFile(path.join(shards, 'manifest.json'), 'utf8')) as { noise?: { epsFg?: unknown; epsBg?: unknown } };
    recordedBudget = m.noise;
    recorded = (await manifestPluginName(shards)).plugin;
  } catch {
    // verifyShards reports a missing or broken manifest as a problem.
  }
  const spec = o.plugin ?? recorded;
  if (!spec) throw new ConfigError(`${shards}/manifest.json does not name the plugin of the run: pass --plugin`);
  const plugin = await resolvePlugin(spec === 'coco-panoptic' ? 'coco' : spec);
  const root = path.resolve(o.against);
  if (!(await plugin.detect(root))) throw new ConfigError(`${root} does not look like a ${plugin.name} dataset`);
  let budget: NoiseBudget | undefined;
  if (o.epsFg !== undefined || o.epsBg !== undefined) {
    // One budget given: the other is the manifest's.
    const fg = o.epsFg !== undefined ? parseEps(o.epsFg, '--eps-fg') : recordedBudget?.epsFg;
    const bg = o.epsBg !== undefined ? parseEps(o.epsBg, '--eps-bg') : recordedBudget?.epsBg;
    if (typeof fg !== 'number' || typeof bg !== 'number') {
      throw new ConfigError(`${shards}/manifest.json records no noise budget: give both --eps-fg and --eps-bg`);
    }
    budget = { epsFg: fg, epsBg: bg };
  }
  const report = await verifyShards({ dir: shards, reader: await plugin.open(root), budget });
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatVerifyReport(report)}\n`);
  return report.problems.length > 0 ? 2 : 0;
}
