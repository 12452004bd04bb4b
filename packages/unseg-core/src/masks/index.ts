export type { Rle, BinaryMask } from './types.js';
