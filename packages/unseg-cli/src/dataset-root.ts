import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type DatasetPlugin } from '@unseg/core';

/**
 * The dataset folder a user gave with `option`, resolved, once it is shown to exist and to be in
 * the plugin's format: a mistyped path is said to be one, not "does not look like a coco dataset".
 */
export async function datasetRoot(plugin: DatasetPlugin, given: string, option: string): Promise<string> {
  const root = path.resolve(given);
  if (!existsSync(root)) throw new ConfigError(`${option} ${root}: no such file or folder`);
  if (!(await plugin.detect(root))) {
    throw new ConfigError(`${root} does not look like a ${plugin.name} dataset (the plugin's detect() said no)`);
  }
  return root;
}
