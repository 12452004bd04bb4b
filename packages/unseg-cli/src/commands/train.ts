import path from 'node:path';
import { ConfigError, isDirectory, type DatasetReader } from '@unseg/core';
import type { BackendName } from '@unseg/core/generator';
// Types only: @unseg/train (and TensorFlow.js) is loaded when `train` runs, not at every CLI start.
import type { TrainerOptions } from '@unseg/train';
import { parseEps, parseNonNegativeInt, parsePositiveInt } from '../options.js';
import { checkOutputFolder } from '../out-path.js';
import { resolvePlugin } from '../plugins.js';

export interface TrainCommandOptions {
  data: string[];
  out: string;
  seed: string;
  epochs: string;
  resume?: boolean;
  /** Commander restricts it to selectBackend's names. */
  backend: BackendName;
  size: string;
  batch: string;
  lrG: string;
  lrS: string;
  meanPenalty: string;
  lm: boolean;
  eg: boolean;
  trainEpsFg: string;
  trainEpsBg: string;
  schedule: string;
  warmup: string;
  prompts: string;
  rescale: boolean;
  photometric?: boolean;
  /** Commander restricts it to these choices. */
  noiseChannels: 'rgb' | 'luma';
  carrier?: string;
  maxMinutes?: string;
  maxImages?: string;
  stepsPerEpoch?: string;
  diagEvery: string;
}

/**
 * A number as typed: Number() alone takes "" and " " for 0 and hands NaN on, which training
 * then recorded as null ("--lr-g abc").
 */
export function parseNumber(text: string, flag: string, range: { above?: number; atLeast?: number; atMost?: number }): number {
  const n = text.trim() === '' ? NaN : Number(text);
  const lower = range.above !== undefined ? `> ${range.above}` : `>= ${range.atLeast ?? '-Infinity'}`;
  const expected = `a number ${lower}${range.atMost !== undefined ? ` and <= ${range.atMost}` : ''}`;
  if (!Number.isFinite(n)) throw new ConfigError(`${flag} ${JSON.stringify(text)}: expected ${expected}`);
  if ((range.above !== undefined && !(n > range.above)) || (range.atLeast !== undefined && !(n >= range.atLeast)) || (range.atMost !== undefined && !(n <= range.atMost))) {
    throw new ConfigError(`${flag} ${JSON.stringify(text)}: expected ${expected}`);
  }
  return n;
}

export function parseSeed(text: string): number {
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isSafeInteger(n)) throw new ConfigError(`--seed ${JSON.stringify(text)}: expected a whole number`);
  return n;
}

/** `plugin:dir[@split]`: the split defaults to every split except the ones named valid/val/test. */
export function parseDataSpec(spec: string): { plugin: string; dir: string; split: string | undefined } {
  const m = /^([^:]+):(.+?)(?:@([^@/]+))?$/.exec(spec);
  if (!m) throw new ConfigError(`--data ${spec}: expected <plugin>:<dir>[@<split>], e.g. sa1b:data/sa1b or coco:data/coco@train`);
  return { plugin: m[1]!, dir: m[2]!, split: m[3] };
}

/** `epoch:S:G` or `step:S:G`: S units train the surrogate, then G units train the generator. */
export function parseSchedule(text: string): TrainerOptions['schedule'] {
  const m = /^(epoch|step):(\d+):(\d+)$/.exec(text);
  if (!m || Number(m[2]) < 1 || Number(m[3]) < 1) {
    throw new ConfigError(`--schedule ${text}: expected epoch:<S>:<G> or step:<S>:<G> with S, G >= 1 (the paper: epoch:1:3)`);
  }
  return { unit: m[1] as 'epoch' | 'step', surrogate: Number(m[2]), generator: Number(m[3]) };
}

/**
 * `points=0.7,box=0.2,mask=0.1`: relative frequencies of the surrogate's prompt kinds; kinds not
 * named keep their weight in `defaults`.
 */
export function parsePrompts(text: string, defaults: TrainerOptions['prompts']): TrainerOptions['prompts'] {
  const out = { ...defaults };
  for (const part of text.split(',')) {
    const [k, v] = part.split('=');
    const weight = v === undefined || v.trim() === '' ? NaN : Number(v);
    if ((k !== 'points' && k !== 'box' && k !== 'mask') || !Number.isFinite(weight) || weight < 0) {
      throw new ConfigError(`--prompts ${text}: expected e.g. points=0.7,box=0.2,mask=0.1`);
    }
    out[k] = weight;
  }
  if (out.points + out.box + out.mask <= 0) throw new ConfigError(`--prompts ${text}: at least one kind must have weight > 0`);
  return out;
}

const HELD_OUT = /^(val|valid|validation|test)/i;

/**
 * Every numeric option read strictly, before any data is opened: a typo must not start an
 * hour of training (or one on NaN settings).
 */
export function parseTrainerOptions(o: TrainCommandOptions, paper: TrainerOptions, photometric: TrainerOptions['photometric']): Partial<TrainerOptions> {
  return {
    seed: parseSeed(o.seed),
    batchSize: parsePositiveInt(o.batch, '--batch'),
    labelModification: o.lm,
    epsilonGeneralization: o.eg,
    lrGenerator: parseNumber(o.lrG, '--lr-g', { above: 0 }),
    lrSurrogate: parseNumber(o.lrS, '--lr-s', { above: 0 }),
    meanPenalty: parseNumber(o.meanPenalty, '--mean-penalty', { atLeast: 0 }),
    schedule: parseSchedule(o.schedule),
    surrogateWarmupSteps: parseNonNegativeInt(o.warmup, '--warmup'),
    prompts: parsePrompts(o.prompts, paper.prompts),
    trainEps: { fg: parseEps(o.trainEpsFg, '--train-eps-fg'), bg: parseEps(o.trainEpsBg, '--train-eps-bg') },
    diagnosticEvery: parseNonNegativeInt(o.diagEvery, '--diag-every'),
    ...(o.rescale ? {} : { rescale: null }),
    ...(o.photometric ? { photometric } : {}),
    generatorNoise: o.noiseChannels,
    ...(o.carrier !== undefined ? { generatorCarrier: parsePositiveInt(o.carrier, '--carrier') } : {}),
    ...(o.stepsPerEpoch !== undefined ? { stepsPerEpoch: parsePositiveInt(o.stepsPerEpoch, '--steps-per-epoch') } : {}),
  };
}

/** Opens every `--data` spec's reader and the splits it names (held-out splits only when named). */
export async function openTrainingSources(specs: readonly string[]): Promise<{ reader: DatasetReader; split: string }[]> {
  const sources = [];
  for (const spec of specs) {
    const { plugin: name, dir, split } = parseDataSpec(spec);
    if (!(await isDirectory(path.resolve(dir)))) throw new ConfigError(`--data ${spec}: ${path.resolve(dir)} is not a folder (missing, or a file)`);
    const plugin = await resolvePlugin(name);
    const reader = await plugin.open(path.resolve(dir));
    const splits = split ? [split] : (await reader.splits()).filter((s) => !HELD_OUT.test(s));
    if (splits.length === 0) throw new ConfigError(`--data ${spec}: no training split (held-out splits are never used unless named)`);
    for (const s of splits) sources.push({ reader, split: s });
  }
  return sources;
}

/** `unseg-pipeline train`: bilevel min-min training of a generator; writes a generator folder. */
export async function trainCommand(o: TrainCommandOptions): Promise<number> {
  if (o.data.length === 0) throw new ConfigError('--data is required: e.g. --data sa1b:../shared/data/sa1b-facades');
  const { DEFAULT_PHOTOMETRIC, PAPER_OPTIONS, checkTrainingSize, trainGenerator } = await import('@unseg/train');
  const trainer = parseTrainerOptions(o, PAPER_OPTIONS, DEFAULT_PHOTOMETRIC);
  const size = parsePositiveInt(o.size, '--size');
  checkTrainingSize(size, { ...PAPER_OPTIONS, ...trainer });
  const epochs = parsePositiveInt(o.epochs, '--epochs');
  const maxMinutes = o.maxMinutes === undefined ? undefined : parseNumber(o.maxMinutes, '--max-minutes', { above: 0 });
  const maxImages = o.maxImages === undefined ? undefined : parsePositiveInt(o.maxImages, '--max-images');
  await checkOutputFolder(o.out, '--out');
  const sources = await openTrainingSources(o.data);
  // As in `run`: Ctrl-C or a job runner's SIGTERM ends training at the next step with a
  // checkpoint to resume from; the same signal again stops at once (back to the last checkpoint).
  const controller = new AbortController();
  // A second signal exits at once, except in the middle of a save: the generator's files are
  // written one after another, and a half-written set would load as a broken generator.
  let saving = false;
  let exitAfterSave = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (!saving) process.exit(130);
      exitAfterSave = true;
      process.stderr.write('\nstopping as soon as the checkpoint and generator being written are complete\n');
      return;
    }
    process.stderr.write(`\n${signal === 'SIGINT' ? 'interrupted' : signal}: stopping after the step in flight with a checkpoint (press Ctrl-C again to stop at once)\n`);
    controller.abort();
  };
  const onSaving = (busy: boolean) => {
    saving = busy;
    if (!busy && exitAfterSave) process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await trainGenerator({
      sources,
      out: path.resolve(o.out),
      epochs,
      trainer,
      size,
      resume: Boolean(o.resume),
      backend: o.backend,
      maxMinutes,
      maxImages,
      signal: controller.signal,
      onSaving,
      provenance: { command: ['unseg-pipeline', ...process.argv.slice(2)].join(' ') },
      print: (line) => process.stderr.write(`${line}\n`),
    });
    if (!result.alreadyDone && result.steps > 0) {
      process.stderr.write(
        `trained ${result.steps} steps (${result.epochs} epochs) in ${result.seconds.toFixed(0)} s on ${result.backend}; generator written to ${path.resolve(o.out)}\n`,
      );
    }
    return result.stopped === 'signal' ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
