/**
 * @unseg/plugin-sa1b: the public API. Reads SA-1B (segment-anything) per-image JSON as unseg
 * Samples; it is also the source the generator trainer reads its training images through.
 */
import { sa1bPlugin } from './plugin.js';

export { sa1bPlugin, SA1B_SPLIT, SA1B_CATEGORY, SA1B_DEFAULT_MAX_JSON_BYTES } from './plugin.js';
export type { Sa1bPluginOptions, Sa1bAnnotation, Sa1bImage } from './plugin.js';

/** The plugin with default options, for `unseg-pipeline run sa1b`. */
const sa1b = sa1bPlugin();
export default sa1b;
