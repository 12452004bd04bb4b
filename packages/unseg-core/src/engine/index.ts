export { createPipeline, protect } from './pipeline.js';
export type { PipelineOptions, PipelineInput, PipelineOutput } from './pipeline.js';
export { parsePromptSelection, inPrompt, describePromptSelection } from './prompt.js';
export type { PromptSelection } from './prompt.js';
export { measureNoise, budgetViolation } from './verify.js';
export { mapOrdered, batches } from './streams.js';
export { combineListeners } from './events.js';
export type { PipelineListener, RunSummary } from './events.js';
