export type { NoiseRequest, NoiseSource, NoiseBudget } from './types.js';
