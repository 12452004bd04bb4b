import { ConfigError } from '../errors.js';
import { PLUGIN_CONTRACT_VERSION, type DatasetPlugin } from './types.js';

/** docs/plugins.md: letters, digits, `.`, `_`, `-`; a leading `.` or `-` would read as a path or an option. */
const PLUGIN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Checks, when a plugin is loaded and before any data flows, that it is a DatasetPlugin written
 * for this contract version. `origin` says where it came from, for the message.
 */
export function assertPluginContract(candidate: unknown, origin: string): DatasetPlugin {
  const p = candidate as Partial<DatasetPlugin> | null | undefined;
  if (!p || typeof p !== 'object') {
    throw new ConfigError(`${origin} does not export a dataset plugin (expected an object, got ${typeof candidate})`);
  }
  const missing = (['name', 'version', 'contract', 'detect', 'open'] as const).filter((k) => p[k] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(`${origin} is not a dataset plugin: missing ${missing.join(', ')}`);
  }
  if (typeof p.detect !== 'function' || typeof p.open !== 'function') {
    throw new ConfigError(`${origin}: detect and open must be functions`);
  }
  if (p.export !== undefined && typeof p.export !== 'function') {
    throw new ConfigError(`${origin}: export, when present, must be a function`);
  }
  // The name goes into logs, manifests and `--plugin <name>`: keep it one shell word.
  if (typeof p.name !== 'string' || !PLUGIN_NAME_RE.test(p.name)) {
    throw new ConfigError(
      `${origin}: plugin name ${JSON.stringify(p.name)} is not allowed: use letters, digits, ".", "_" and "-", starting with a letter or digit`,
    );
  }
  // A string '1' would otherwise be reported as "contract 1, but this @unseg/core implements contract 1".
  if (typeof p.contract !== 'number') {
    throw new ConfigError(
      `plugin "${p.name}" (${origin}): contract must be a number, the PLUGIN_CONTRACT_VERSION constant imported from @unseg/core ` +
        `(got ${typeof p.contract} ${JSON.stringify(p.contract)})`,
    );
  }
  if (p.contract !== PLUGIN_CONTRACT_VERSION) {
    throw new ConfigError(
      `plugin "${p.name}" (${origin}) implements plugin contract ${String(p.contract)}, ` +
        `but this @unseg/core implements contract ${PLUGIN_CONTRACT_VERSION}; ` +
        (typeof p.contract === 'number' && p.contract < PLUGIN_CONTRACT_VERSION
          ? 'update the plugin'
          : 'update @unseg/core and @unseg/cli'),
    );
  }
  return p as DatasetPlugin;
}
