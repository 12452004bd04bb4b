import { ConfigError, stableJson } from '@unseg/core';
import { unetDivisor } from '@unseg/core/generator';
import type { TrainerOptions } from './trainer.js';

/**
 * What decides the trained weights, recorded in the checkpoint so that a resume with other
 * settings can be refused: resuming would silently make a generator that no single command
 * produced. Left out: epochs and time limit (a resume exists to extend them), the backend (a
 * resume on a faster machine is the point of checkpoints; it changes float rounding only) and
 * diagnosticEvery (the diagnostic draws from its own RNG and changes only the log).
 */
export interface TrainingSettings {
  readonly size: number;
  /** `<dataset root>@<split>` per source, in order. */
  readonly data: readonly string[];
  readonly maxImages: number | null;
  readonly minArea: number;
  readonly trainer: Record<string, unknown>;
  /** trainingDataDigest of the loaded data; known only once it is read (checkpoints before it lack it). */
  readonly dataDigest?: string;
}

export function trainingSettings(s: { size: number; data: readonly string[]; maxImages?: number; minArea: number; trainer: TrainerOptions }): TrainingSettings {
  return { size: s.size, data: [...s.data], maxImages: s.maxImages ?? null, minArea: s.minArea, trainer: trainerSettings(s.trainer) };
}

/** The trainer's options as compared; an optional option absent and at its default are the same setting. */
export function trainerSettings(options: TrainerOptions): Record<string, unknown> {
  const { diagnosticEvery: _diagnostics, ...trainer } = options;
  return {
    ...trainer,
    generatorNoise: trainer.generatorNoise ?? 'rgb',
    generatorCarrier: trainer.generatorCarrier || null,
    photometric: trainer.photometric ?? null,
    stepsPerEpoch: trainer.stepsPerEpoch ?? null,
  };
}

/** The command-line flag of each setting, as `unseg-pipeline train` and tools/train-default-generator.mjs name it. */
const FLAGS: Record<string, string> = {
  size: '--size',
  data: '--data',
  maxImages: '--max-images',
  minArea: 'minArea',
  seed: '--seed',
  batchSize: '--batch',
  lrGenerator: '--lr-g',
  lrSurrogate: '--lr-s',
  meanPenalty: '--mean-penalty',
  labelModification: '--no-lm',
  epsilonGeneralization: '--no-eg',
  trainEps: '--train-eps-fg/--train-eps-bg',
  schedule: '--schedule',
  surrogateWarmupSteps: '--warmup',
  prompts: '--prompts',
  rescale: '--no-rescale',
  photometric: '--photometric',
  generatorNoise: '--noise-channels',
  generatorCarrier: '--carrier',
  stepsPerEpoch: '--steps-per-epoch',
};

/**
 * The settings that differ, as "--size was 32, now 16". `before` may come from a checkpoint
 * written before settings were recorded (trainer options only, from state.json): only what it
 * has is compared.
 */
export function changedSettings(before: Partial<TrainingSettings>, now: TrainingSettings): string[] {
  const pairs: [string, unknown, unknown][] = [];
  // Where the checkpoint knows its data's content, the content decides (trainingDataDigest,
  // compared once the data is read), not the folders' paths.
  const keys = before.dataDigest ? (['size', 'maxImages', 'minArea'] as const) : (['size', 'data', 'maxImages', 'minArea'] as const);
  for (const key of keys) if (key in before) pairs.push([key, before[key], now[key]]);
  if (before.trainer) {
    const keys = new Set([...Object.keys(before.trainer), ...Object.keys(now.trainer)]);
    for (const key of [...keys].sort()) pairs.push([key, before.trainer[key], now.trainer[key]]);
  }
  return pairs
    .filter(([, a, b]) => stableJson(a) !== stableJson(b))
    .map(([key, a, b]) => `${FLAGS[key] ?? key} was ${shown(a)}, now ${shown(b)}`);
}

/** A setting as a user gave it; an option left out is recorded as null. */
function shown(v: unknown): string {
  return v === null || v === undefined ? 'not given (its default)' : stableJson(v);
}


/**
 * The random rescale before S never goes below 16 px (BilevelTrainer.drawResize), and an
 * object must cover 4 cells to be kept: a smaller working size trains on a few blurred pixels.
 */
export const MIN_TRAINING_SIZE = 16;

/**
 * G and S are U-Nets that halve the image once per level after the first, so the working size
 * must be a multiple of 2^(levels - 1) (4 for the default 16-32-64), and at least the minimum.
 */
export function checkTrainingSize(size: number, trainer: Pick<TrainerOptions, 'generatorWidths' | 'surrogateWidths'>): void {
  const step = Math.max(...[trainer.generatorWidths, trainer.surrogateWidths].map((widths) => unetDivisor({ inChannels: 1, outChannels: 1, widths })));
  const least = Math.ceil(MIN_TRAINING_SIZE / step) * step;
  if (!Number.isInteger(size) || size < least || size % step !== 0) {
    throw new ConfigError(
      `--size ${size}: the working size must be a multiple of ${step} (the networks' ${Math.log2(step) + 1} levels halve it ${Math.log2(step)} times) and at least ${least}, e.g. ${Math.max(least, Math.round(size / step) * step)}`,
    );
  }
}

/**
 * Numeric options a library caller (tools/train-default-generator.mjs passes Number(text))
 * may hand over as NaN or out of range: refuse them before any data is read, naming the flag.
 */
export function checkNumbers(o: { epochs: number; maxMinutes?: number; maxImages?: number; minArea?: number; trainer: TrainerOptions }): void {
  const t = o.trainer;
  const rules: [string, number | undefined, (v: number) => boolean, string][] = [
    ['--epochs', o.epochs, isPositiveInt, 'a whole number >= 1'],
    ['--max-minutes', o.maxMinutes, (v) => Number.isFinite(v) && v > 0, 'a number > 0'],
    ['--max-images', o.maxImages, isPositiveInt, 'a whole number >= 1'],
    ['minArea', o.minArea, (v) => v >= 0 && v <= 1, 'a fraction between 0 and 1'],
    ['--seed', t.seed, Number.isInteger, 'a whole number'],
    ['--batch', t.batchSize, isPositiveInt, 'a whole number >= 1'],
    ['--lr-g', t.lrGenerator, (v) => Number.isFinite(v) && v > 0, 'a number > 0'],
    ['--lr-s', t.lrSurrogate, (v) => Number.isFinite(v) && v > 0, 'a number > 0'],
    ['--mean-penalty', t.meanPenalty, (v) => Number.isFinite(v) && v >= 0, 'a number >= 0'],
    ['--warmup', t.surrogateWarmupSteps, (v) => Number.isInteger(v) && v >= 0, 'a whole number >= 0'],
    ['--steps-per-epoch', t.stepsPerEpoch, isPositiveInt, 'a whole number >= 1'],
    ['--diag-every', t.diagnosticEvery, (v) => Number.isInteger(v) && v >= 0, 'a whole number >= 0'],
    ['--schedule S', t.schedule.surrogate, isPositiveInt, 'a whole number >= 1'],
    ['--schedule G', t.schedule.generator, isPositiveInt, 'a whole number >= 1'],
  ];
  for (const [flag, value, ok, expected] of rules) {
    if (value !== undefined && !ok(value)) throw new ConfigError(`${flag} ${value}: expected ${expected}`);
  }
}

function isPositiveInt(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}
