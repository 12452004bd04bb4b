export { Rng } from './rng.js';
export { DEFAULT_PROMPTS, PROMPT_CHANNELS, makePrompt, pickPromptKind, type PromptKind, type PromptOptions } from './prompts.js';
export { bceWithLogits, diceLoss, segLoss, generatorTarget } from './losses.js';
export { createSurrogate, surrogateSpec, SURROGATE_PREFIX, type Surrogate } from './surrogate.js';
export { loadTrainingSet, rleToSquare, decodeImageSquare, DEFAULT_MIN_AREA, type TrainingSet, type LoadOptions } from './data.js';
export { checkTrainingSize, MIN_TRAINING_SIZE } from './settings.js';
export {
  BilevelTrainer,
  PAPER_OPTIONS,
  TrainingDivergedError,
  type Budget,
  type Schedule,
  type RescaleOptions,
  type TrainerOptions,
  type Phase,
  type StepRecord,
  type DiagnosticRecord,
  type LogRecord,
} from './trainer.js';
export { applyJitter, colourMatrix, drawJitter, DEFAULT_PHOTOMETRIC, IDENTITY_JITTER, type JitterParams, type PhotometricOptions } from './photometric.js';
export { trainGenerator, type TrainGeneratorOptions, type TrainGeneratorResult } from './run.js';
export { sanityEfficacy, type SanityNoise, type SanityOptions, type SanityResult } from './sanity.js';
export { summarizeLog } from './report.js';
export { checkpointExists } from './checkpoint-dir.js';
export { missingFolders, removeMadeFolders } from './made-folders.js';
export { trainClassCodes, checkClassCodesGeometry, classCodesDocument, codeSlots, projectCodes, binarizeCodes, type ClassCodesTrainingOptions, type ClassCodesRound, type ClassCodesResult } from './class-codes.js';
