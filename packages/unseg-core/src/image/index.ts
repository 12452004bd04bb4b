export type { RgbImage } from './types.js';
export { decodeRgb, encodeRgb, encodedExtension, DEFAULT_ENCODE, DEFAULT_JPEG_QUALITY, DEFAULT_LIMIT_INPUT_PIXELS } from './codec.js';
export type { DecodeOptions, DecodeInfo, EncodeOptions } from './codec.js';
