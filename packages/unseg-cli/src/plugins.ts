import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertPluginContract, ConfigError, type DatasetPlugin } from '@unseg/core';
import ade20k from '@unseg/plugin-ade20k';
import coco from '@unseg/plugin-coco';
import sa1b from '@unseg/plugin-sa1b';

/** The plugins that ship with the CLI, by the name used on the command line. */
export const BUILTIN_PLUGINS: Readonly<Record<string, DatasetPlugin>> = { coco, ade20k, sa1b };

/** A plugin spec that names a module file (`./x.js`, `/abs/x.js`) rather than an npm package. */
const isModulePath = (spec: string): boolean => spec.startsWith('.') || path.isAbsolute(spec);

/**
 * Where a plugin given on the command line comes from, for the manifest, so that `verify` and
 * `export` load the same module later: an absolute path for a module path, the package name for an
 * npm package, nothing for a built-in plugin (its name is enough).
 */
export function pluginSource(spec: string): string | undefined {
  if (BUILTIN_PLUGINS[spec]) return undefined;
  return isModulePath(spec) ? path.resolve(spec) : spec;
}

/**
 * Finds a plugin by name: a built-in one, else an installed npm package or a path to a module,
 * whose default export (or `plugin` export) is a DatasetPlugin or a factory returning one.
 */
export async function resolvePlugin(spec: string): Promise<DatasetPlugin> {
  const builtin = BUILTIN_PLUGINS[spec];
  if (builtin) return assertPluginContract(builtin, `built-in plugin ${spec}`);
  const isPath = isModulePath(spec);
  const target = isPath ? pathToFileURL(path.resolve(spec)).href : spec;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(
      `unknown plugin "${spec}": not built in (${Object.keys(BUILTIN_PLUGINS).join(', ')}) and ` +
        `it could not be imported as ${isPath ? 'a module path' : 'an npm package'} ` +
        `(${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
      { cause: error },
    );
  }
  let candidate = mod.default ?? mod.plugin;
  if (typeof candidate === 'function') candidate = (candidate as () => unknown)();
  return assertPluginContract(candidate, isPath ? spec : `package ${spec}`);
}
