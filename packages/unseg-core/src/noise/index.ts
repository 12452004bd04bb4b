export type { NoiseRequest, NoiseSource, NoiseBudget } from './types.js';
export { applyBudgetedNoise, budgetSteps } from './apply.js';
