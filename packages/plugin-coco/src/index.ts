/**
 * @unseg/plugin-coco: the public API. Reads COCO instances (official layout and the Roboflow
 * export) and COCO panoptic datasets as unseg Samples.
 */
import { cocoPlugin } from './plugin.js';

export { cocoPlugin, cocoPanopticPlugin } from './plugin.js';
export type { CocoPluginOptions, CocoSampleMeta } from './plugin.js';

/** The plugin with default options, for `unseg-pipeline run coco`. */
const coco = cocoPlugin();
export default coco;
