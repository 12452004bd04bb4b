/** @unseg/cli: the `unseg-pipeline` command, also usable from code. */
export { main, buildProgram } from './program.js';
export { resolvePlugin, BUILTIN_PLUGINS } from './plugins.js';
export { parseEps } from './options.js';
export { workerFromEnvironment } from './worker.js';
export { publishingHeapFlags, tunePublishingHeap, PUBLISHING_HEAP_GROWING_PERCENT } from './heap.js';
