/**
 * @unseg/core: the public API. Everything a plugin author, an ETL job or the CLI needs is
 * exported here; modules not re-exported from this file are internal. The trained generator
 * (TensorFlow.js) is the subpath `@unseg/core/generator`, so that importing the core does not
 * start TensorFlow.js: the baselines, readers and shard tools never need it, and `--noise unseg`
 * loads it on demand.
 */
export * from './errors.js';
export { stableJson } from './json.js';
export * from './masks/index.js';
export * from './plugin/index.js';
export * from './image/index.js';
export * from './noise/index.js';
export * from './shards/index.js';
export * from './engine/index.js';
export * from './verify/index.js';
export * from './export/index.js';
