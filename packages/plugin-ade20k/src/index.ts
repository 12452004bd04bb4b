/**
 * @unseg/plugin-ade20k: the public API. Reads the ADE20K scene-parsing benchmark
 * (ADEChallengeData2016) as unseg Samples, one object per class present in an image.
 */
import { ade20kPlugin } from './plugin.js';

export { ade20kPlugin, ADE20K_CATEGORIES } from './plugin.js';
export type { Ade20kSegmentAnnotation } from './plugin.js';
export { ADE20K_CLASS_NAMES, ADE20K_THING_CLASSES } from './classes.js';

/** The plugin with default options, for `unseg-pipeline run ade20k`. */
const ade20k = ade20kPlugin();
export default ade20k;
