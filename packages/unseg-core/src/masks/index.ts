export type { Rle, BinaryMask } from './types.js';
export { MaskFormatError } from './errors.js';
export {
  rleFromString,
  rleToString,
  rleFromCounts,
  rleDecode,
  rleEncode,
  rleUnion,
  rleArea,
  rleToBbox,
} from './rle.js';
export { rleFromPolygons } from './polygon.js';
export { rleFromSegmentation } from './segmentation.js';
