export { selectBackend, type BackendName } from './backend.js';
export { conv2dSame, usesCustomConvGrad } from './conv.js';
export { applyNoiseTensor } from './apply.js';
export {
  initUNet,
  unetForward,
  unetParamShapes,
  unetDivisor,
  countParams,
  type UNetSpec,
  type ParamMap,
} from './unet.js';
export {
  buildGenerator,
  createGenerator,
  defaultGeneratorConfig,
  generatorSpec,
  workingShape,
  GENERATOR_PREFIX,
  type Generator,
  type GeneratorConfig,
} from './model.js';
export { saveTensors, loadTensors, paramsFromTensors, type WeightsFile, type NamedTensor } from './checkpoint.js';
export {
  DEFAULT_GENERATOR_DIR,
  GENERATOR_CONFIG_FILE,
  GENERATOR_WEIGHTS_STEM,
  createGeneratorNoiseSource,
  generateNoise,
  loadGenerator,
  saveGenerator,
  type GeneratorNoiseSourceOptions,
} from './source.js';
