import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertPluginContract, ConfigError, UnsegError, type DatasetPlugin, type DatasetReader } from '@unseg/core';
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
  if (builtin) return attributeFailures(assertPluginContract(builtin, `built-in plugin ${spec}`), 'built in');
  const isPath = isModulePath(spec);
  const target = isPath ? pathToFileURL(path.resolve(spec)).href : spec;
  let mod: Record<string, unknown>;
  try {
    mod = await importPlugin(target, isPath);
  } catch (error) {
    throw new ConfigError(
      `unknown plugin "${spec}": not built in (${Object.keys(BUILTIN_PLUGINS).join(', ')}) and ` +
        `it could not be imported as ${isPath ? 'a module path' : 'an npm package'} ` +
        `(${error instanceof Error ? error.message.split('\n')[0] : String(error)})`,
      { cause: error },
    );
  }
  let candidate = mod.default ?? mod.plugin;
  const origin = isPath ? spec : `package ${spec}`;
  if (typeof candidate === 'function') {
    try {
      candidate = (candidate as () => unknown)();
    } catch (error) {
      throw new PluginFailure(`plugin module ${origin}: its factory threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (candidate && typeof (candidate as { then?: unknown }).then === 'function') {
      throw new ConfigError(`plugin module ${origin}: its factory returned a Promise; export the plugin object, or a factory that returns it synchronously`);
    }
  }
  return attributeFailures(assertPluginContract(candidate, origin), origin);
}

/**
 * A package name is resolved from the CLI's own location by `import()`; a CLI installed
 * globally, linked, or in another project would then miss a plugin installed in the user's
 * project. So a package that the CLI cannot see is also looked for in the node_modules folders
 * from the working directory up, as npm and npx lay them out.
 */
async function importPlugin(target: string, isPath: boolean): Promise<Record<string, unknown>> {
  try {
    return (await import(target)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (isPath || (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED')) throw error;
    const entry = await packageEntryFromWorkingDirectory(target);
    if (!entry) throw error;
    return (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  }
}

/** The ESM entry file of package `name` in the nearest node_modules above the working directory. */
async function packageEntryFromWorkingDirectory(name: string): Promise<string | undefined> {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, 'node_modules', name);
    const manifest = await readFile(path.join(pkgDir, 'package.json'), 'utf8').then(
      (text) => JSON.parse(text) as { exports?: unknown; main?: string },
      () => undefined,
    );
    // Node's own order: `exports`, else `main`, else index.js (`module` is a bundlers' field).
    if (manifest) return path.join(pkgDir, exportedEntry(manifest.exports) ?? manifest.main ?? 'index.js');
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The root entry of an `exports` field, under the conditions an ESM import in Node uses. */
function exportedEntry(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (!exports || typeof exports !== 'object' || Array.isArray(exports)) return undefined;
  const map = exports as Record<string, unknown>;
  if ('.' in map) return exportedEntry(map['.']);
  for (const condition of ['import', 'node', 'default']) {
    const entry = exportedEntry(map[condition]);
    if (entry) return entry;
  }
  return undefined;
}

/** A plugin's own code threw (a bug or an unforeseen input), as opposed to a ConfigError or SampleError it chose to raise. */
export class PluginFailure extends UnsegError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PLUGIN_FAILED', message, options);
  }
}

/**
 * The plugin, with what its own code throws from detect(), open() and its reader's methods
 * named as the plugin's: otherwise a TypeError from deep inside it reaches the user as an
 * "unexpected error" of unseg's, with a stack of the plugin's internals. Errors the plugin
 * raises on purpose (UnsegError: ConfigError, SampleError) keep their own messages.
 */
export function attributeFailures(plugin: DatasetPlugin, origin: string): DatasetPlugin {
  const blame = (doing: string) => (error: unknown) => {
    if (error instanceof UnsegError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new PluginFailure(`plugin "${plugin.name}" (${origin}) failed while ${doing}: ${message}`, { cause: error });
  };
  // An export hook writes through core's target and reads core's rows: a full disk or a
  // permission error there is the system's, not a bug of the plugin.
  const blameUnlessSystem = (doing: string) => (error: unknown) => {
    if (typeof (error as NodeJS.ErrnoException | undefined)?.code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!)) throw error;
    return blame(doing)(error);
  };
  // A mask() that throws fails its sample only (the engine records it), but as the plugin's. Only
  // plain, extensible objects are wrapped (copied): a class instance, a frozen object or anything
  // malformed is passed on as it is, for the engine's own checks.
  const guardMasks = <T>(item: T): T => {
    if (!isPlain(item) || !Array.isArray(item.objects) || !item.objects.every((o) => isPlain(o) && typeof o.mask === 'function')) return item;
    const objects = (item.objects as Record<string, unknown>[]).map((object) => {
      const mask = object.mask as () => Promise<unknown>;
      return { ...object, mask: () => call(() => mask.call(object)).catch(blame(`reading the mask of object ${String(object.id)} of sample ${String(item.id)}`)) };
    });
    return { ...item, objects } as T;
  };
  const guardReader = (reader: DatasetReader): DatasetReader => {
    // The reader's other members (root, a plugin's extras) stay reachable through the prototype.
    const guarded = Object.create(reader) as DatasetReader & Record<string, unknown>;
    guarded.splits = () => call(() => reader.splits()).catch(blame(`listing the splits of ${reader.root}`));
    guarded.categories = (split) => call(() => reader.categories(split)).catch(blame(`reading the categories of split "${split}" of ${reader.root}`));
    guarded.samples = async function* (split) {
      try {
        for await (const item of reader.samples(split)) yield guardMasks(item);
      } catch (error) {
        blame(`reading split "${split}" of ${reader.root}`)(error);
      }
    };
    return guarded;
  };
  return {
    ...plugin,
    // Called through `plugin`, so that a plugin whose methods use `this` keeps it.
    detect: (root) => call(() => plugin.detect(root)).catch(blame(`checking whether ${root} is its format (detect)`)),
    open: async (root, options) => guardReader(await call(() => plugin.open(root, options)).catch(blame(`opening ${root}`))),
    ...(plugin.export ? { export: (job) => call(() => plugin.export!(job)).catch(blameUnlessSystem(`exporting split "${job.split}"`)) } : {}),
  };
}

/** A plain object literal (not a class instance, not frozen or sealed): safe to copy with a spread. */
function isPlain(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype && Object.isExtensible(x);
}

/** A synchronous throw from a method declared async-returning becomes a rejection, caught like one. */
function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (error) {
    return Promise.reject(error);
  }
}
