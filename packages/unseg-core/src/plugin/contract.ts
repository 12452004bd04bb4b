import { ConfigError } from '../errors.js';
import { PLUGIN_CONTRACT_VERSION, type DatasetPlugin } from './types.js';

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
