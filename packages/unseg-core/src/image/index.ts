export type { RgbImage } from './types.js';
