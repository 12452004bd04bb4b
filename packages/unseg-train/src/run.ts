import * as tf from '@tensorflow/tfjs';
import type { DatasetReader } from '@unseg/core';
import { selectBackend, type BackendName } from '@unseg/core/generator';
import { ConfigError, acquireOutputLock, lockFileName, stableJson } from '@unseg/core';
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { exists, recoverCheckpoint, replaceCheckpoint } from './checkpoint-dir.js';
import { missingFolders, removeMadeFolders } from './made-folders.js';
import { DEFAULT_MIN_AREA, loadTrainingSet, trainingDataDigest } from './data.js';
import { changedSettings, checkNumbers, checkTrainingSize, trainerSettings, trainingSettings, type TrainingSettings } from './settings.js';
import { truncateLog } from './train-log.js';
import { BilevelTrainer, PAPER_OPTIONS, TrainingDivergedError, type DiagnosticRecord, type LogRecord, type Phase, type TrainerOptions } from './trainer.js';

export interface TrainGeneratorOptions {
  /** Readers from any DatasetPlugin (sa1b, coco, ...) and the split to read from each. */
  readonly sources: readonly { reader: DatasetReader; split: string }[];
  /** Output directory: the generator (generator.json, model.json, model.weights.bin), train-log.jsonl, checkpoint/. */
  readonly out: string;
  readonly epochs: number;
  readonly trainer?: Partial<TrainerOptions>;
  /** Working resolution (square side) for training. */
  readonly size?: number;
  readonly resume?: boolean;
  readonly backend?: BackendName;
  /** Stop after this many minutes (at a step boundary), checkpointing and exporting what exists; a resume continues at the next step. */
  readonly maxMinutes?: number;
  readonly maxImages?: number;
  readonly minArea?: number;
  /** Stops at the next step boundary once aborted (Ctrl-C, SIGTERM), checkpointing and exporting as --max-minutes does. */
  readonly signal?: AbortSignal;
  /** Told when a save (checkpoint, then generator) starts and ends: a hard exit should wait for the end. */
  readonly onSaving?: (saving: boolean) => void;
  /** Free-form provenance stored in generator.json; its `command`, if any, is kept with those of earlier runs of the folder (`commands`). */
  readonly provenance?: Record<string, unknown>;
  readonly print?: (line: string) => void;
  /**
   * For tests: called after each file of a checkpoint is written (`afterFile`) and between the
   * renames that put it in place (`beforeSwap`); a throw there stands for a crash (kill -9).
   */
  readonly checkpointHooks?: { afterFile?: (name: string) => Promise<void> | void; beforeSwap?: () => Promise<void> | void };
}

export interface TrainGeneratorResult {
  readonly backend: string;
  readonly steps: number;
  readonly epochs: number;
  readonly seconds: number;
  readonly lastDiagnostic?: DiagnosticRecord;
  /** Why training ended before `epochs`: the time limit or the signal; absent when it reached them. */
  readonly stopped?: 'max-minutes' | 'signal';
  /** Nothing was trained: the checkpoint had already reached `epochs`. */
  readonly alreadyDone?: boolean;
}


/** What a checkpoint keeps beside the trainer's state: time spent so far and the settings that decide the weights. */
interface RunMeta {
  readonly seconds?: number;
  readonly settings?: TrainingSettings;
  /** The command of every run that trained this checkpoint, first to last. */
  readonly commands?: string[];
}

const GENERATOR_FILES = ['generator.json', 'model.json'];
/** What a training that died before its first checkpoint leaves: a fresh start may reuse such a folder. */
const TRAINING_LEFTOVERS = new Set(['train-log.jsonl', lockFileName()]);
/** Files a file browser drops into any folder it shows: an "empty" folder opened in Finder holds .DS_Store. */
const OS_CLUTTER = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini']);

/**
 * Refuses to train over a generator or checkpoint without --resume (it would be replaced epoch
 * by epoch, e.g. the shipped models/default), to resume where there is nothing to resume, or
 * to resume with settings other than the checkpoint's. Returns the checkpoint's meta when resuming.
 */
async function checkOutFolder(out: string, ckpt: string, resume: boolean, settings: TrainingSettings): Promise<RunMeta | undefined> {
  const hasCheckpoint = await exists(path.join(ckpt, 'state.json'));
  if (!resume) {
    const held = [
      ...((await Promise.all(GENERATOR_FILES.map((f) => exists(path.join(out, f))))).some(Boolean) ? ['a generator'] : []),
      ...(hasCheckpoint ? ['a checkpoint'] : []),
    ];
    if (held.length) throw new ConfigError(`--out ${out} holds ${held.join(' and ')}; pass --resume to continue it, or use another --out`);
    // A new training writes and truncates files of its own names: never among someone else's (a
    // dataset, published shards).
    const foreign = (await readdir(out).catch(() => [] as string[])).filter((name) => !TRAINING_LEFTOVERS.has(name) && !OS_CLUTTER.has(name));
    if (foreign.length) {
      const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, ... (${foreign.length} entries)` : '');
      throw new ConfigError(`--out ${out} is not empty (it holds ${shown}): train into a new or empty folder`);
    }
    return undefined;
  }
  if (!hasCheckpoint) {
    throw new ConfigError(`--resume: --out ${out} holds no checkpoint to continue (no ${path.join(ckpt, 'state.json')}); leave out --resume to start a new training in an empty folder`);
  }
  const meta = JSON.parse(await readFile(path.join(ckpt, 'run.json'), 'utf8').catch(() => '{}')) as RunMeta;
  // Checkpoints from before settings were recorded still hold the trainer's options.
  const state = JSON.parse(await readFile(path.join(ckpt, 'state.json'), 'utf8')) as { options?: Record<string, unknown> };
  const before: Partial<TrainingSettings> = meta.settings ?? (state.options ? { trainer: trainerSettings(state.options as unknown as TrainerOptions) } : {});
  const changed = changedSettings(before, settings);
  if (changed.length) {
    throw new ConfigError(
      `--resume: the checkpoint in ${ckpt} was trained with other settings (${changed.join('; ')}); ` +
        'continuing it would make a generator that no single command trained: resume with the same settings, or train into another --out',
    );
  }
  return meta;
}

/**
 * A resume must continue on the data the checkpoint was trained on. Checkpoints that recorded
 * their data's digest are held to it (and may find their data at another path); older ones were
 * held to the paths by checkOutFolder.
 */
function checkSameData(meta: RunMeta, settings: TrainingSettings, digest: string, ckpt: string, print: (line: string) => void): void {
  const before = meta.settings;
  if (!before?.dataDigest) return;
  if (before.dataDigest !== digest) {
    throw new ConfigError(
      `--resume: the training data differs from what the checkpoint in ${ckpt} was trained on (images, masks or which samples are readable changed in ${settings.data.join(', ')}, ` +
        'or the images decode differently: the digest is over decoded pixels, so another sharp/libvips version can change it); ' +
        'continuing it would make a generator trained on two datasets: restore the data, or train into another --out',
    );
  }
  if (stableJson(before.data) !== stableJson(settings.data)) print(`data: the same training data as the checkpoint's, now at ${settings.data.join(', ')} (was ${before.data.join(', ')})`);
}

/**
 * The whole training run behind `unseg-pipeline train` and tools/train-default-generator.mjs:
 * pre-decode the data, train, log every step as JSON lines, checkpoint and export the
 * generator after every epoch, resume from the checkpoint when asked. Settings and the output
 * folder are checked before any data is read.
 */
export async function trainGenerator(o: TrainGeneratorOptions): Promise<TrainGeneratorResult> {
  const existed = await stat(o.out).then(
    (st) => {
      if (!st.isDirectory()) throw new ConfigError(`--out ${o.out} is a file, not a folder`);
      return true;
    },
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      if (err.code === 'ENOTDIR') throw new ConfigError(`--out ${o.out}: a part of the path is a file, not a folder`);
      throw err;
    },
  );
  // The folders the lock's mkdir is about to make, deepest first: a refused run removes them all.
  const made = existed ? [] : await missingFolders(o.out);
  // Two trainings into one folder would swap each other's checkpoints and interleave their logs.
  const lock = await acquireOutputLock(o.out);
  try {
    return await trainInFolder(o);
  } finally {
    await lock.release();
    await removeMadeFolders(made);
  }
}

async function trainInFolder(o: TrainGeneratorOptions): Promise<TrainGeneratorResult> {
  const print = o.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const options: TrainerOptions = { ...PAPER_OPTIONS, ...o.trainer };
  const size = o.size ?? 128;
  const minArea = o.minArea ?? DEFAULT_MIN_AREA;
  checkNumbers({ epochs: o.epochs, maxMinutes: o.maxMinutes, maxImages: o.maxImages, minArea, trainer: options });
  checkTrainingSize(size, options);
  const settings = trainingSettings({ size, data: o.sources.map((s) => `${path.resolve(s.reader.root)}@${s.split}`), maxImages: o.maxImages, minArea, trainer: options });
  const ckpt = path.join(o.out, 'checkpoint');
  const logFile = path.join(o.out, 'train-log.jsonl');
  const recovered = await recoverCheckpoint(ckpt);
  if (recovered) print(`checkpoint: ${recovered}`);
  const resumed = await checkOutFolder(o.out, ckpt, Boolean(o.resume), settings);
  const backend = await selectBackend(o.backend ?? 'auto');
  print(`backend: ${backend}`);
  const t0 = Date.now();
  const data = await loadTrainingSet(o.sources, { size, maxImages: o.maxImages, minArea, log: print, signal: o.signal });
  if (o.signal?.aborted) {
    print('stopped by the signal while reading the training data: nothing was trained, and nothing in --out changed');
    return { backend, steps: 0, epochs: 0, seconds: 0, stopped: 'signal' };
  }
  const nObjects = data.masks.reduce((a, m) => a + m.length, 0);
  const skipped = data.skipped?.length ? `, ${data.skipped.length} samples skipped (listed above)` : '';
  print(`data: ${data.images.length} images, ${nObjects} objects at ${size}x${size}${skipped} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const dataDigest = trainingDataDigest(data);
  if (resumed) checkSameData(resumed, settings, dataDigest, ckpt, print);
  const settingsWithData: TrainingSettings = { ...settings, dataDigest };
  await mkdir(o.out, { recursive: true });
  const trainer = new BilevelTrainer(data, options);
  try {
    let previousSeconds = 0;
    if (resumed) {
      await trainer.loadCheckpoint(ckpt);
      previousSeconds = resumed.seconds ?? 0;
      const log = await truncateLog(logFile, trainer.step);
      if (log.dropped) print(`train-log.jsonl: dropped ${log.dropped} lines after the checkpoint's step ${trainer.step}`);
      if (log.steps !== trainer.step) print(`warning: train-log.jsonl holds ${log.steps} steps, the checkpoint ${trainer.step}: the log has a gap`);
      print(`resumed at epoch ${trainer.epoch}, step ${trainer.step}`);
    } else {
      await writeFile(logFile, '');
    }
    if (trainer.epoch >= o.epochs) {
      print(`nothing to train: the checkpoint has reached epoch ${trainer.epoch} (step ${trainer.step}) and --epochs is ${o.epochs}; ${o.out} is left as it was (raise --epochs to train on)`);
      return { backend, steps: trainer.step, epochs: trainer.epoch, seconds: previousSeconds, alreadyDone: true };
    }
    const command = typeof o.provenance?.command === 'string' ? [o.provenance.command] : [];
    const commands = [...(resumed?.commands ?? []), ...command];
    return await runTraining(o, { trainer, data, nObjects, backend, size, options, settings: settingsWithData, commands, ckpt, logFile, previousSeconds, print });
  } finally {
    trainer.dispose();
  }
}

/** Trains, logging each step and saving checkpoint, log and generator after every epoch. */
async function runTraining(
  o: TrainGeneratorOptions,
  r: {
    trainer: BilevelTrainer;
    data: { images: readonly unknown[]; skipped?: readonly { file: string; reason: string }[] };
    nObjects: number;
    backend: string;
    size: number;
    options: TrainerOptions;
    settings: TrainingSettings;
    commands: string[];
    ckpt: string;
    logFile: string;
    previousSeconds: number;
    print: (line: string) => void;
  },
): Promise<TrainGeneratorResult> {
  const { trainer, options, print, logFile, ckpt } = r;
  const start = Date.now();
  const seconds = () => r.previousSeconds + (Date.now() - start) / 1000;
  let last: DiagnosticRecord | undefined;
  let pending: string[] = [];
  const flush = async () => {
    if (pending.length) await appendFile(logFile, pending.join(''));
    pending = [];
  };
  // Mean S and G step losses since the last diagnostic line, and over the epoch (printed with
  // each checkpoint whatever --diag-every is).
  const sinceDiagnostic = new PhaseLosses();
  const thisEpoch = new PhaseLosses();
  const onLog = (rec: LogRecord) => {
    pending.push(JSON.stringify(rec) + '\n');
    if (rec.kind === 'step') {
      sinceDiagnostic.add(rec.phase, rec.loss);
      thisEpoch.add(rec.phase, rec.loss);
    } else {
      last = rec;
      print(
        `step ${rec.step} epoch ${rec.epoch}: ${sinceDiagnostic.describe()} | ` +
          `true-mask loss clean ${rec.trueClean.toFixed(3)} G ${rec.trueG.toFixed(3)} uniform ${rec.trueUniform.toFixed(3)} sign ${rec.trueSign.toFixed(3)} | ` +
          `G-target loss G ${rec.targetG.toFixed(3)} uniform ${rec.targetUniform.toFixed(3)} | noise std ${rec.noiseSpatialStd.toFixed(3)} |mean| ${rec.noiseChannelMean.toFixed(3)} sat ${rec.noiseSaturated.toFixed(3)}`,
      );
      sinceDiagnostic.reset();
    }
  };
  const provenance = () => ({
    ...o.provenance,
    ...(r.commands.length ? { commands: r.commands } : {}),
    seed: options.seed,
    epochs: trainer.epoch,
    steps: trainer.step,
    seconds: Math.round(seconds()),
    backend: r.backend,
    machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`,
    trainerOptions: options,
    images: r.data.images.length,
    // What was left out, so that a generator says what it was trained on without its log.
    ...(r.data.skipped?.length
      ? { skippedSamples: r.data.skipped.length, skipped: r.data.skipped.slice(0, 100).map((e) => ({ file: e.file, reason: e.reason })) }
      : {}),
    objects: r.nObjects,
    size: r.size,
  });
  // The log goes first: after a crash it may run ahead of the checkpoint, which a resume cuts
  // back (truncateLog), but it is never behind it. The generator goes last, from weights that
  // the checkpoint already holds.
  let saved = r.previousSeconds > 0 || trainer.step > 0 ? { epoch: trainer.epoch, step: trainer.step } : undefined;
  const save = async () => {
    o.onSaving?.(true);
    try {
      await saveNow();
    } finally {
      o.onSaving?.(false);
    }
  };
  const saveNow = async () => {
    trainer.checkGeneratorOutput();
    await flush();
    await replaceCheckpoint(
      ckpt,
      async (into) => {
        await trainer.saveCheckpoint(into, o.checkpointHooks?.afterFile);
        const meta: RunMeta = { seconds: seconds(), settings: r.settings, ...(r.commands.length ? { commands: r.commands } : {}) };
        await writeFile(path.join(into, 'run.json'), JSON.stringify(meta));
        await o.checkpointHooks?.afterFile?.('run.json');
      },
      o.checkpointHooks?.beforeSwap,
    );
    await trainer.exportGenerator(o.out, provenance());
    saved = { epoch: trainer.epoch, step: trainer.step };
  };
  const deadline = o.maxMinutes !== undefined ? start + o.maxMinutes * 60_000 : Infinity;
  try {
    await trainer.train({
      epochs: o.epochs,
      onLog,
      onEpoch: async (e) => {
        await save();
        print(`epoch ${e} done: ${thisEpoch.describe()}, checkpoint saved (${seconds().toFixed(0)} s, ${tf.memory().numTensors} tensors)`);
        thisEpoch.reset();
      },
      shouldStop: () => Date.now() > deadline || Boolean(o.signal?.aborted),
    });
    // A stop between epochs was saved by onEpoch.
    if (saved?.step !== trainer.step) await save();
  } catch (error) {
    // Nothing is saved from a diverged epoch (its log lines included): the folder stays as the last save left it.
    if (error instanceof TrainingDivergedError) {
      print(
        saved
          ? `nothing of the diverged epoch was saved: ${o.out} keeps the generator and checkpoint of epoch ${saved.epoch} (step ${saved.step})`
          : `no generator was written to ${o.out}`,
      );
    }
    throw error;
  }
  const stopped = trainer.epoch < o.epochs ? (o.signal?.aborted ? 'signal' : 'max-minutes') : undefined;
  if (stopped) {
    print(
      `stopped by ${stopped === 'signal' ? 'the signal' : `--max-minutes ${o.maxMinutes}`} at step ${trainer.step}, ` +
        `${trainer.stepsIntoEpoch > 0 ? `in epoch ${trainer.epoch + 1}` : `after epoch ${trainer.epoch}`} of ${o.epochs}: ` +
        `checkpoint and generator saved; rerun the same command with --resume to continue from the next step`,
    );
  }
  return { backend: r.backend, steps: trainer.step, epochs: trainer.epoch, seconds: seconds(), ...(last ? { lastDiagnostic: last } : {}), ...(stopped ? { stopped } : {}) };
}

/** Running means of the surrogate's and the generator's step losses, for progress lines. */
class PhaseLosses {
  private sum = { S: 0, G: 0 };
  private n = { S: 0, G: 0 };

  add(phase: Phase, loss: number): void {
    this.sum[phase] += loss;
    this.n[phase]++;
  }

  /** "S loss 0.1234 G loss -", a phase without steps shown as "-". */
  describe(): string {
    const mean = (phase: Phase) => (this.n[phase] ? (this.sum[phase] / this.n[phase]).toFixed(4) : '-');
    return `S loss ${mean('S')} G loss ${mean('G')}`;
  }

  reset(): void {
    this.sum = { S: 0, G: 0 };
    this.n = { S: 0, G: 0 };
  }
}
