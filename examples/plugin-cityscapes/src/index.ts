/**
 * unseg-plugin-cityscapes: reads Cityscapes (leftImg8bit + gtFine) as unseg Samples. Written
 * against @unseg/core's public API only, as a template for third-party plugins.
 */
import { cityscapesPlugin } from './plugin.js';

export { cityscapesPlugin } from './plugin.js';
export type { CityscapesPluginOptions, CityscapesObjectAnnotation } from './plugin.js';
export { CITYSCAPES_LABELS } from './labels.js';
export type { CityscapesLabel } from './labels.js';

/** The plugin with default options: what `unseg-pipeline run <this package or path>` loads. */
const cityscapes = cityscapesPlugin();
export default cityscapes;
