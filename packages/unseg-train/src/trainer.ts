import * as tf from '@tensorflow/tfjs';
import {
  applyNoiseTensor,
  createGenerator,
  defaultGeneratorConfig,
  saveGenerator,
  saveTensors,
  type Generator,
  type GeneratorConfig,
  type ParamMap,
} from '@unseg/core/generator';
import { UnsegError } from '@unseg/core';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TrainingSet } from './data.js';
import { generatorTarget, segLoss } from './losses.js';
import { DEFAULT_PROMPTS, makePrompt, PROMPT_CHANNELS, type PromptOptions } from './prompts.js';
import { applyJitter, drawJitter, type PhotometricOptions } from './photometric.js';
import { Rng } from './rng.js';
import { loadAdam, loadParams, saveAdam, type BetaPowers } from './training-state.js';
import { createSurrogate, type Surrogate } from './surrogate.js';

export interface Budget {
  readonly fg: number;
  readonly bg: number;
}

export interface Schedule {
  /** 'epoch': whole epochs alternate (the paper); 'step': steps alternate within epochs. */
  readonly unit: 'epoch' | 'step';
  /** Units that train S, then units that train G, repeated. */
  readonly surrogate: number;
  readonly generator: number;
}

/**
 * Random rescaling of x + noise (and the prompt and target with it) before S sees it, and
 * sometimes a downscale-then-upscale: downstream trainers resize images ~4-8x, and noise that
 * only works at one scale, or only as fine texture, is averaged away there.
 */
export interface RescaleOptions {
  readonly min: number;
  readonly max: number;
  /** Probability of a downscale-then-upscale by a factor in [2, maxDegrade]. */
  readonly degradeProb: number;
  readonly maxDegrade: number;
}

export interface TrainerOptions {
  readonly seed: number;
  readonly batchSize: number;
  readonly generatorWidths: readonly number[];
  readonly surrogateWidths: readonly number[];
  /** Remove each channel's per-image mean before tanh (against the colour-tint collapse). */
  readonly centre: boolean;
  /** G's noise: three colour channels, or one grey channel written to all three (GeneratorConfig.noise). */
  readonly generatorNoise?: 'rgb' | 'luma';
  /** GeneratorConfig.carrier: stripe width (working pixels) of the fixed texture G's output multiplies; absent: none. */
  readonly generatorCarrier?: number;
  /**
   * Weight of a penalty on the squared per-image channel means of G's noise (after tanh), added
   * to G's loss. Centring before tanh is not enough: a saturated tanh turns "+A on 10% of the
   * image, -A/9 on the rest" into a near-constant tint again (seen in a run without it).
   */
  readonly meanPenalty: number;
  readonly lrGenerator: number;
  readonly lrSurrogate: number;
  /** LM: generator phases use an all-ones target. */
  readonly labelModification: boolean;
  /** EG: train at trainEps, generate at generateEps. Off: train at generateEps. */
  readonly epsilonGeneralization: boolean;
  readonly trainEps: Budget;
  readonly generateEps: Budget;
  readonly schedule: Schedule;
  /** Steps at the start that train only S, so that G first meets a surrogate that segments. */
  readonly surrogateWarmupSteps: number;
  readonly prompts: PromptOptions;
  readonly rescale: RescaleOptions | null;
  /** Photometric jitter of x + noise before S (not in the paper; see photometric.ts). */
  readonly photometric?: PhotometricOptions | null;
  /** Steps per epoch; default: one pass over the images (one random object per image). */
  readonly stepsPerEpoch?: number;
  /** Run the diagnostic every this many steps (0: never). */
  readonly diagnosticEvery: number;
}

/** The paper's settings (UnSeg, NeurIPS 2024): LM and EG on, 1 of every 4 epochs trains S, Adam 1e-4. */
export const PAPER_OPTIONS: TrainerOptions = {
  seed: 0,
  batchSize: 8,
  generatorWidths: [16, 32, 64],
  surrogateWidths: [16, 32, 64],
  centre: true,
  meanPenalty: 0,
  lrGenerator: 1e-4,
  lrSurrogate: 1e-4,
  labelModification: true,
  epsilonGeneralization: true,
  trainEps: { fg: 1 / 255, bg: 0.25 / 255 },
  generateEps: { fg: 8 / 255, bg: 2 / 255 },
  schedule: { unit: 'epoch', surrogate: 1, generator: 3 },
  surrogateWarmupSteps: 0,
  prompts: DEFAULT_PROMPTS,
  rescale: { min: 0.5, max: 1.5, degradeProb: 0.5, maxDegrade: 4 },
  diagnosticEvery: 10,
};

export type Phase = 'S' | 'G';

/**
 * A loss or a weight stopped being a finite number: every later step would only spread the
 * NaN, and exporting the weights would publish a generator that makes NaN noise. The message
 * names where it happened; the caller keeps its last good checkpoint and generator.
 */
export class TrainingDivergedError extends UnsegError {
  readonly epoch: number;
  readonly step: number;
  readonly phase: Phase;
  /** `when`: e.g. "at epoch 2, step 17 (a generator step)"; `what`: what is not finite. */
  constructor(where: { epoch: number; step: number; phase: Phase }, when: string, what: string, lr: number) {
    const net = where.phase === 'G' ? 'generator' : 'surrogate';
    const flag = where.phase === 'G' ? '--lr-g' : '--lr-s';
    super('TRAINING_DIVERGED', `training diverged ${when}: ${what}; the ${net}'s learning rate ${lr} is probably too high: try a lower ${flag} (the paper: 1e-4)`);
    this.epoch = where.epoch;
    this.step = where.step;
    this.phase = where.phase;
  }
}

export interface StepRecord {
  readonly kind: 'step';
  readonly step: number;
  readonly epoch: number;
  readonly phase: Phase;
  readonly loss: number;
  readonly ms: number;
}

/** How much G's noise moves S, against random noise of the same budget, and what the noise looks like. */
export interface DiagnosticRecord {
  readonly kind: 'diagnostic';
  readonly step: number;
  readonly epoch: number;
  /** S's loss against the true masks: clean, with G's noise, uniform random noise, +-1 sign noise (at generateEps). */
  readonly trueClean: number;
  readonly trueG: number;
  readonly trueUniform: number;
  readonly trueSign: number;
  /** S's loss against G's phase target (all ones under LM) with G's noise and with uniform noise, at trainEps and generateEps. */
  readonly targetGTrain: number;
  readonly targetUniformTrain: number;
  readonly targetG: number;
  readonly targetUniform: number;
  /** Mean over images and channels of the noise's spatial standard deviation. */
  readonly noiseSpatialStd: number;
  /** Mean over images and channels of |spatial mean|: high with low spatial std is the tint collapse. */
  readonly noiseChannelMean: number;
  /** Fraction of noise values with |v| > 0.95 (tanh saturation). */
  readonly noiseSaturated: number;
  /** Mean |mean inside the prompt - mean outside| per channel: a mask-shaped tint shows here. */
  readonly noiseFgBgGap: number;
}

export type LogRecord = StepRecord | DiagnosticRecord;

interface Batch {
  x: tf.Tensor4D;
  mask: tf.Tensor4D;
  prompt: tf.Tensor4D;
}

export class BilevelTrainer {
  readonly options: TrainerOptions;
  readonly data: TrainingSet;
  readonly generator: Generator;
  readonly surrogate: Surrogate;
  readonly optG: tf.AdamOptimizer;
  readonly optS: tf.AdamOptimizer;
  rng: Rng;
  step = 0;
  epoch = 0;
  /**
   * Where the current epoch stands: its image order and the steps of it done. Kept in the
   * checkpoint, so that a run stopped in the middle of an epoch (--max-minutes) resumes at the
   * next step of the same order instead of starting the epoch again with another shuffle.
   */
  private epochOrder: number[] | undefined;
  private stepInEpoch = 0;

  /** Steps done of the current epoch (0 between epochs). */
  get stepsIntoEpoch(): number {
    return this.stepInEpoch;
  }
  private diagBatch: (Batch & { uniform: tf.Tensor4D; sign: tf.Tensor4D }) | undefined;

  constructor(data: TrainingSet, options: TrainerOptions, generatorConfig?: Partial<GeneratorConfig>) {
    this.options = options;
    this.data = data;
    const gconf = defaultGeneratorConfig({ widths: options.generatorWidths, workingSize: data.size, centre: options.centre, noise: options.generatorNoise ?? 'rgb', ...(options.generatorCarrier ? { carrier: options.generatorCarrier } : {}), ...generatorConfig });
    this.generator = createGenerator(gconf, options.seed * 1000 + 1);
    this.surrogate = createSurrogate(options.surrogateWidths, options.seed * 1000 + 500);
    this.optG = tf.train.adam(options.lrGenerator);
    this.optS = tf.train.adam(options.lrSurrogate);
    this.rng = new Rng(options.seed);
  }

  get stepsPerEpoch(): number {
    return this.options.stepsPerEpoch ?? Math.max(1, Math.floor(this.data.images.length / this.options.batchSize));
  }

  get trainBudget(): Budget {
    return this.options.epsilonGeneralization ? this.options.trainEps : this.options.generateEps;
  }

  /** Which network the given step trains. */
  phaseOf(step: number, epoch: number): Phase {
    if (step < this.options.surrogateWarmupSteps) return 'S';
    const { unit, surrogate, generator } = this.options.schedule;
    const k = unit === 'epoch' ? epoch : step - this.options.surrogateWarmupSteps;
    return k % (surrogate + generator) < surrogate ? 'S' : 'G';
  }

  /** A batch of images, one random object each, with freshly sampled prompts. */
  makeBatch(imageIndices: readonly number[], rng: Rng = this.rng): Batch {
    const { size, images, masks } = this.data;
    const n = imageIndices.length;
    const hw = size * size;
    const xs = new Float32Array(n * hw * 3);
    const ms = new Float32Array(n * hw);
    const ps = new Float32Array(n * hw * PROMPT_CHANNELS);
    imageIndices.forEach((img, b) => {
      xs.set(images[img]!, b * hw * 3);
      const objs = masks[img]!;
      const m = objs[rng.int(objs.length)]!;
      for (let i = 0; i < hw; i++) ms[b * hw + i] = m[i]!;
      ps.set(makePrompt(m, size, size, this.options.prompts, rng), b * hw * PROMPT_CHANNELS);
    });
    return {
      x: tf.tensor4d(xs, [n, size, size, 3]),
      mask: tf.tensor4d(ms, [n, size, size, 1]),
      prompt: tf.tensor4d(ps, [n, size, size, PROMPT_CHANNELS]),
    };
  }

  /**
   * Draws this step's augmentation of what S sees: photometric jitter of x' (one draw per image,
   * when enabled), then rescaling; returns a function applying it to (x', prompt, target).
   */
  private drawAugmentation(): (x: tf.Tensor4D, p: tf.Tensor4D, t: tf.Tensor4D) => [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
    const jitter = this.options.photometric;
    const rescale = this.drawResize();
    if (!jitter) return rescale;
    const n = this.options.batchSize;
    const draws = Array.from({ length: n }, () => drawJitter(jitter, this.rng));
    return (x, p, t) => rescale(applyJitter(x, draws.slice(0, x.shape[0])), p, t);
  }

  private drawResize(): (x: tf.Tensor4D, p: tf.Tensor4D, t: tf.Tensor4D) => [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
    const r = this.options.rescale;
    if (!r) return (x, p, t) => [x, p, t];
    const size = this.data.size;
    const s = this.rng.uniform(r.min, r.max);
    const to = Math.max(16, Math.round((size * s) / 4) * 4);
    const degrade = this.rng.next() < r.degradeProb ? this.rng.uniform(2, r.maxDegrade) : 0;
    return (x, p, t) => {
      let y = to === size ? x : tf.image.resizeBilinear(x, [to, to]);
      if (degrade) {
        const small = Math.max(4, Math.round(to / degrade));
        y = tf.image.resizeBilinear(tf.image.resizeBilinear(y, [small, small]), [to, to]);
      }
      if (to === size) return [y, p, t];
      return [y, tf.image.resizeBilinear(p, [to, to]), tf.image.resizeBilinear(t, [to, to])];
    };
  }

  private varList(params: ParamMap): tf.Variable[] {
    return [...params.values()];
  }

  /** One surrogate step: G frozen (its noise is a constant), S minimises BCE + Dice to the true mask. */
  surrogateStep(batch: Batch): number {
    const eps = this.trainBudget;
    const augment = this.drawAugmentation();
    const loss = tf.tidy(() => {
      const noise = this.generator.forward(batch.x, batch.mask);
      const xAdv = applyNoiseTensor(batch.x, noise, batch.mask, eps.fg, eps.bg);
      const [xr, pr, tr] = augment(xAdv, batch.prompt, batch.mask);
      const cost = this.optS.minimize(() => segLoss(this.surrogate.forward(xr, pr), tr), true, this.varList(this.surrogate.params));
      return cost!;
    });
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  }

  /** One generator step: S frozen, G minimises S's loss against the (LM) target through the noise. */
  generatorStep(batch: Batch): number {
    const eps = this.trainBudget;
    const augment = this.drawAugmentation();
    const loss = tf.tidy(() => {
      const target = generatorTarget(batch.mask, this.options.labelModification);
      const cost = this.optG.minimize(
        () => {
          const noise = this.generator.forward(batch.x, batch.mask);
          const xAdv = applyNoiseTensor(batch.x, noise, batch.mask, eps.fg, eps.bg);
          const [xr, pr, tr] = augment(xAdv, batch.prompt, target);
          const loss = segLoss(this.surrogate.forward(xr, pr), tr);
          if (!this.options.meanPenalty) return loss;
          return loss.add(noise.mean([1, 2]).square().mean().mul(this.options.meanPenalty)) as tf.Scalar;
        },
        true,
        this.varList(this.generator.params),
      );
      return cost!;
    });
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  }

  /** A fixed diagnostic batch (its own RNG) so that the curves compare like with like. */
  private getDiagBatch(): Batch & { uniform: tf.Tensor4D; sign: tf.Tensor4D } {
    if (!this.diagBatch) {
      const rng = new Rng(this.options.seed + 7919);
      const n = Math.min(this.options.batchSize, this.data.images.length);
      const idx = rng.shuffle([...this.data.images.keys()]).slice(0, n);
      const b = this.makeBatch(idx, rng);
      const shape = b.x.shape;
      const uniform = tf.randomUniform(shape, -1, 1, 'float32', this.options.seed + 1) as tf.Tensor4D;
      const sign = tf.tidy(() => tf.sign(tf.randomUniform(shape, -1, 1, 'float32', this.options.seed + 2)) as tf.Tensor4D);
      this.diagBatch = { ...b, uniform, sign };
    }
    return this.diagBatch;
  }

  diagnose(): DiagnosticRecord {
    const d = this.getDiagBatch();
    const gen = this.options.generateEps;
    const tr = this.trainBudget;
    const values = tf.tidy(() => {
      const S = (x: tf.Tensor4D, t: tf.Tensor4D) => segLoss(this.surrogate.forward(x, d.prompt), t);
      const noised = (n: tf.Tensor4D, e: Budget) => applyNoiseTensor(d.x, n, d.mask, e.fg, e.bg);
      const g = this.generator.forward(d.x, d.mask);
      const target = generatorTarget(d.mask, this.options.labelModification);
      const mean = g.mean([1, 2]);
      const std = g.sub(g.mean([1, 2], true)).square().mean([1, 2]).sqrt();
      const fgN = d.mask.sum([1, 2]).add(1e-6);
      const bgN = tf.onesLike(d.mask).sub(d.mask).sum([1, 2]).add(1e-6);
      const fgMean = g.mul(d.mask).sum([1, 2]).div(fgN);
      const bgMean = g.mul(tf.onesLike(d.mask).sub(d.mask)).sum([1, 2]).div(bgN);
      return tf.stack([
        S(d.x, d.mask),
        S(noised(g, gen), d.mask),
        S(noised(d.uniform, gen), d.mask),
        S(noised(d.sign, gen), d.mask),
        S(noised(g, tr), target),
        S(noised(d.uniform, tr), target),
        S(noised(g, gen), target),
        S(noised(d.uniform, gen), target),
        std.mean(),
        mean.abs().mean(),
        g.abs().greater(0.95).toFloat().mean(),
        fgMean.sub(bgMean).abs().mean(),
      ]);
    });
    const v = Array.from(values.dataSync());
    values.dispose();
    return {
      kind: 'diagnostic',
      step: this.step,
      epoch: this.epoch,
      trueClean: v[0]!,
      trueG: v[1]!,
      trueUniform: v[2]!,
      trueSign: v[3]!,
      targetGTrain: v[4]!,
      targetUniformTrain: v[5]!,
      targetG: v[6]!,
      targetUniform: v[7]!,
      noiseSpatialStd: v[8]!,
      noiseChannelMean: v[9]!,
      noiseSaturated: v[10]!,
      noiseFgBgGap: v[11]!,
    };
  }

  /** Trains up to `epochs` epochs in total (counting those of a resumed run). */
  async train(run: {
    epochs: number;
    onLog?: (r: LogRecord) => void;
    onEpoch?: (epoch: number) => Promise<void> | void;
    /** Stop (after the current step) once this returns true, e.g. a wall-clock limit. */
    shouldStop?: () => boolean;
  }): Promise<void> {
    const every = this.options.diagnosticEvery;
    const B = this.options.batchSize;
    while (this.epoch < run.epochs) {
      const order = (this.epochOrder ??= this.rng.shuffle([...this.data.images.keys()]));
      for (; this.stepInEpoch < this.stepsPerEpoch; ) {
        const k = this.stepInEpoch;
        const idx: number[] = [];
        for (let j = 0; j < B; j++) idx.push(order[(k * B + j) % order.length]!);
        const phase = this.phaseOf(this.step, this.epoch);
        const batch = this.makeBatch(idx);
        const t0 = performance.now();
        const loss = phase === 'S' ? this.surrogateStep(batch) : this.generatorStep(batch);
        tf.dispose([batch.x, batch.mask, batch.prompt]);
        this.checkFinite(phase, loss);
        run.onLog?.({ kind: 'step', step: this.step, epoch: this.epoch, phase, loss, ms: Math.round(performance.now() - t0) });
        this.step++;
        this.stepInEpoch++;
        if (every > 0 && this.step % every === 0) run.onLog?.(this.diagnose());
        // A stop at an epoch's last step still closes the epoch (onEpoch: its checkpoint) first.
        if (this.stepInEpoch < this.stepsPerEpoch && run.shouldStop?.()) return;
      }
      this.epochOrder = undefined;
      this.stepInEpoch = 0;
      this.epoch++;
      await run.onEpoch?.(this.epoch);
      if (this.epoch < run.epochs && run.shouldStop?.()) return;
    }
  }

  /**
   * Stops at the first step whose loss, or whose network's weights after the update, are not
   * finite. The weights are checked too because one huge update can turn them to NaN/Inf while
   * the loss it came from was still finite.
   */
  private checkFinite(phase: Phase, loss: number): void {
    const where = { epoch: this.epoch, step: this.step, phase };
    const when = `at epoch ${this.epoch}, step ${this.step} (a ${phase === 'G' ? 'generator' : 'surrogate'} step)`;
    const lr = phase === 'G' ? this.options.lrGenerator : this.options.lrSurrogate;
    if (!Number.isFinite(loss)) throw new TrainingDivergedError(where, when, `the loss is ${loss}`, lr);
    const params = phase === 'G' ? this.generator.params : this.surrogate.params;
    // NaN and Inf survive a sum of absolute values, so one number per step tells.
    const total = tf.tidy(() => tf.addN(this.varList(params).map((v) => v.abs().sum())).dataSync()[0]!);
    if (!Number.isFinite(total)) throw new TrainingDivergedError(where, when, `the ${phase === 'G' ? 'generator' : 'surrogate'}'s weights are no longer finite after the update`, lr);
  }

  /**
   * Weights can be finite and still absurd (1e30 after one step at a huge learning rate): G's
   * noise is then NaN (Inf - Inf when it is centred) although no loss has been NaN yet. Run
   * before saving, so that such a generator is never written: G on the diagnostic batch.
   */
  checkGeneratorOutput(): void {
    const d = this.getDiagBatch();
    const [sum, largest] = tf.tidy(() => {
      const noise = this.generator.forward(d.x, d.mask);
      const biggest = tf.stack(this.varList(this.generator.params).map((v) => v.abs().max())).max();
      return [noise.abs().sum().dataSync()[0]!, biggest.dataSync()[0]!];
    });
    if (Number.isFinite(sum)) return;
    throw new TrainingDivergedError(
      { epoch: this.epoch, step: this.step, phase: 'G' },
      `by epoch ${this.epoch}, step ${this.step}`,
      `the generator's noise is not finite (its largest weight is ${largest.toExponential(2)})`,
      this.options.lrGenerator,
    );
  }

  /** Everything needed to continue bit-for-bit: both networks, both Adam states, the RNG, the counters. */
  /**
   * Writes the files one by one into `dir`, so a crash leaves a mix of old and new files there:
   * write into a fresh folder and move it into place (run.ts does). `afterFile` is called after
   * each file (tests throw from it to simulate a crash).
   */
  async saveCheckpoint(dir: string, afterFile?: (name: string) => Promise<void> | void): Promise<void> {
    await mkdir(dir, { recursive: true });
    await saveTensors(dir, 'G', this.generator.params);
    await afterFile?.('G');
    await saveTensors(dir, 'S', this.surrogate.params);
    await afterFile?.('S');
    const adamPowers: Record<string, BetaPowers> = {};
    for (const [stem, opt] of [['adamG', this.optG], ['adamS', this.optS]] as const) {
      adamPowers[stem] = await saveAdam(dir, stem, opt);
      await afterFile?.(stem);
    }
    const inEpoch = this.epochOrder ? { epochOrder: this.epochOrder, stepInEpoch: this.stepInEpoch } : {};
    const state = { step: this.step, epoch: this.epoch, rng: this.rng.state, ...inEpoch, options: this.options, generator: this.generator.config, adamPowers };
    await writeFile(path.join(dir, 'state.json'), JSON.stringify(state, null, 1));
    await afterFile?.('state.json');
  }

  async loadCheckpoint(dir: string): Promise<void> {
    const state = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as {
      step: number;
      epoch: number;
      rng: number;
      epochOrder?: number[];
      stepInEpoch?: number;
      adamPowers?: Record<string, [number, number]>;
    };
    const n = this.data.images.length;
    if (state.epochOrder && (state.epochOrder.length !== n || state.epochOrder.some((i) => !Number.isInteger(i) || i < 0 || i >= n))) {
      throw new Error(`checkpoint ${dir} was stopped in an epoch over ${state.epochOrder.length} training images, and ${n} are loaded now: the training data changed`);
    }
    for (const [stem, params] of [['G', this.generator.params], ['S', this.surrogate.params]] as const) await loadParams(dir, stem, params);
    for (const [stem, opt] of [['adamG', this.optG], ['adamS', this.optS]] as const) await loadAdam(dir, stem, opt, state.adamPowers?.[stem]);
    this.step = state.step;
    this.epoch = state.epoch;
    // Checkpoints written at an epoch's end (all of them before mid-epoch stops were kept) start the next epoch afresh.
    this.epochOrder = state.epochOrder;
    this.stepInEpoch = state.epochOrder ? (state.stepInEpoch ?? 0) : 0;
    this.rng = new Rng(0);
    this.rng.state = state.rng;
  }

  async exportGenerator(dir: string, training: Record<string, unknown>): Promise<void> {
    const config: GeneratorConfig = { ...this.generator.config, training };
    await saveGenerator(dir, { ...this.generator, config });
  }

  dispose(): void {
    this.generator.dispose();
    this.surrogate.dispose();
    this.optG.dispose();
    this.optS.dispose();
    if (this.diagBatch) tf.dispose([this.diagBatch.x, this.diagBatch.mask, this.diagBatch.prompt, this.diagBatch.uniform, this.diagBatch.sign]);
  }
}
