export * from './types.js';
export { assertPluginContract } from './contract.js';
