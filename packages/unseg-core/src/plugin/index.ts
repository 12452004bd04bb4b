export * from './types.js';
export { assertPluginContract } from './contract.js';
export {
  resolveInsideRoot,
  isInsideRoot,
  readJsonLimited,
  JsonReadError,
  DEFAULT_MAX_JSON_BYTES,
  isDirectory,
  isFile,
  listSorted,
  compareStrings,
} from './safe-paths.js';
export type { ResolvedPath } from './safe-paths.js';
export { isRecord, isPositiveInt, asBbox, describeError } from './validate.js';
