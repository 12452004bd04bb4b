import * as tf from '@tensorflow/tfjs';
import { selectBackend, type ParamMap } from '@unseg/core/generator';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generatorTarget, segLoss } from './losses.js';
import { tinySet, TINY_OPTIONS } from './test-helpers/tiny.js';
import { BilevelTrainer, PAPER_OPTIONS, TrainingDivergedError, type LogRecord } from './trainer.js';

function snapshot(params: ParamMap): Float32Array[] {
  return [...params.values()].map((v) => v.dataSync().slice() as Float32Array);
}
function changed(a: Float32Array[], b: Float32Array[]): boolean {
  return a.some((x, i) => x.some((v, j) => v !== b[i]![j]));
}

describe('BilevelTrainer', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('a generator step changes G and not S', () => {
    const t = new BilevelTrainer(tinySet(), TINY_OPTIONS);
    const g0 = snapshot(t.generator.params), s0 = snapshot(t.surrogate.params);
    const b = t.makeBatch([0, 1]);
    t.generatorStep(b);
    expect(changed(g0, snapshot(t.generator.params))).toBe(true);
    expect(changed(s0, snapshot(t.surrogate.params))).toBe(false);
    t.dispose();
  });

  it('a surrogate step changes S and not G', () => {
    const t = new BilevelTrainer(tinySet(), TINY_OPTIONS);
    const g0 = snapshot(t.generator.params), s0 = snapshot(t.surrogate.params);
    t.surrogateStep(t.makeBatch([0, 1]));
    expect(changed(s0, snapshot(t.surrogate.params))).toBe(true);
    expect(changed(g0, snapshot(t.generator.params))).toBe(false);
    t.dispose();
  });

  it('with generatorNoise luma, G trains one grey channel and its noise is equal in R, G and B', () => {
    const t = new BilevelTrainer(tinySet(), { ...TINY_OPTIONS, generatorNoise: 'luma' });
    expect(t.generator.config.noise).toBe('luma');
    const b = t.makeBatch([0, 1]);
    const g0 = snapshot(t.generator.params);
    t.generatorStep(b);
    expect(changed(g0, snapshot(t.generator.params))).toBe(true);
    const [r, g, bl] = tf.tidy(() => tf.split(t.generator.forward(b.x, b.mask), 3, 3).map((c) => c.dataSync().slice()));
    expect(Array.from(g!)).toEqual(Array.from(r!));
    expect(Array.from(bl!)).toEqual(Array.from(r!));
    t.dispose();
  });

  it('with generatorCarrier, G trains through the carrier: its noise flips sign from one stripe of rows to the next', () => {
    const t = new BilevelTrainer(tinySet(), { ...TINY_OPTIONS, generatorCarrier: 1 });
    expect(t.generator.config.carrier).toBe(1);
    const b = t.makeBatch([0, 1]);
    const g0 = snapshot(t.generator.params);
    t.generatorStep(b);
    expect(changed(g0, snapshot(t.generator.params))).toBe(true);
    const [carried, field] = tf.tidy(() => [t.generator.forward(b.x, b.mask).arraySync(), t.generator.field(b.x, b.mask).arraySync()]);
    const rows = carried[0]!.length;
    for (let y = 0; y < rows; y++) expect(carried[0]![y]![0]![0]).toBeCloseTo((y % 2 ? -1 : 1) * field[0]![y]![0]![0]!, 6);
    t.dispose();
  });

  it('label modification makes the generator target all ones; without it the target is the mask', () => {
    const mask = tf.tensor4d([0, 1, 0, 0], [1, 2, 2, 1]);
    expect(Array.from(generatorTarget(mask, true).dataSync())).toEqual([1, 1, 1, 1]);
    expect(Array.from(generatorTarget(mask, false).dataSync())).toEqual([0, 1, 0, 0]);
  });

  it('the generator phase optimises the LM target: with LM a G step lowers S loss against all ones', () => {
    const t = new BilevelTrainer(tinySet(), { ...TINY_OPTIONS, lrGenerator: 5e-2, trainEps: { fg: 16 / 255, bg: 8 / 255 } });
    const b = t.makeBatch([0, 1]);
    const ones = tf.onesLike(b.mask) as tf.Tensor4D;
    const lossOnes = () =>
      tf.tidy(() => {
        const noise = t.generator.forward(b.x, b.mask);
        const xa = b.x.add(noise.mul(b.mask.mul(16 / 255 - 8 / 255).add(8 / 255))) as tf.Tensor4D;
        return segLoss(t.surrogate.forward(xa.clipByValue(0, 1) as tf.Tensor4D, b.prompt), ones).dataSync()[0]!;
      });
    const before = lossOnes();
    for (let i = 0; i < 5; i++) t.generatorStep(b);
    expect(lossOnes()).toBeLessThan(before);
    t.dispose();
  });

  it('a few deterministic surrogate steps on two tiny images lower its loss', () => {
    const t = new BilevelTrainer(tinySet(), TINY_OPTIONS);
    const b = t.makeBatch([0, 1]);
    const evalLoss = () => tf.tidy(() => segLoss(t.surrogate.forward(b.x, b.prompt), b.mask).dataSync()[0]!);
    const first = evalLoss();
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) losses.push(t.surrogateStep(b));
    expect(evalLoss()).toBeLessThan(first * 0.9);
    // Same seed, same steps: the same numbers.
    const t2 = new BilevelTrainer(tinySet(), TINY_OPTIONS);
    const b2 = t2.makeBatch([0, 1]);
    const losses2: number[] = [];
    for (let i = 0; i < 8; i++) losses2.push(t2.surrogateStep(b2));
    expect(losses2).toEqual(losses);
    t.dispose();
    t2.dispose();
  });

  it("follows the paper's schedule by default: 1 of every 4 epochs trains S", () => {
    const t = new BilevelTrainer(tinySet(), PAPER_OPTIONS);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((e) => t.phaseOf(e * 10, e)).join('')).toBe('SGGGSGGG');
    const s = new BilevelTrainer(tinySet(), { ...PAPER_OPTIONS, surrogateWarmupSteps: 2, schedule: { unit: 'step', surrogate: 1, generator: 2 } });
    expect([0, 1, 2, 3, 4, 5, 6].map((k) => s.phaseOf(k, 0)).join('')).toBe('SSSGGSG');
    t.dispose();
    s.dispose();
  });

  it('resuming from a checkpoint continues exactly as an uninterrupted run', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'unseg-train-'));
    const opts = { ...TINY_OPTIONS, stepsPerEpoch: 2, schedule: { unit: 'step' as const, surrogate: 1, generator: 1 }, rescale: { min: 0.75, max: 1.25, degradeProb: 0.5, maxDegrade: 3 } };
    const collect = (into: number[]) => (r: LogRecord) => {
      if (r.kind === 'step') into.push(r.loss);
    };
    const full: number[] = [];
    const a = new BilevelTrainer(tinySet(), opts);
    await a.train({ epochs: 3, onLog: collect(full) });
    const part: number[] = [];
    const b = new BilevelTrainer(tinySet(), opts);
    await b.train({ epochs: 1, onLog: collect(part) });
    await b.saveCheckpoint(dir);
    b.dispose();
    const c = new BilevelTrainer(tinySet(), opts);
    await c.loadCheckpoint(dir);
    await c.train({ epochs: 3, onLog: collect(part) });
    expect(part).toHaveLength(6);
    for (let i = 0; i < 6; i++) expect(part[i]).toBeCloseTo(full[i]!, 5);
    expect(Array.from(c.generator.params.get('G/head/w')!.dataSync())).toEqual(Array.from(a.generator.params.get('G/head/w')!.dataSync()));
    a.dispose();
    c.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('a run stopped in the middle of an epoch resumes at its next step, as an uninterrupted run', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'unseg-train-'));
    const opts = { ...TINY_OPTIONS, stepsPerEpoch: 3, schedule: { unit: 'step' as const, surrogate: 1, generator: 1 } };
    const collect = (into: { step: number; epoch: number; loss: number }[]) => (r: LogRecord) => {
      if (r.kind === 'step') into.push({ step: r.step, epoch: r.epoch, loss: r.loss });
    };
    const full: { step: number; epoch: number; loss: number }[] = [];
    const a = new BilevelTrainer(tinySet(), opts);
    await a.train({ epochs: 2, onLog: collect(full) });
    const part: { step: number; epoch: number; loss: number }[] = [];
    const b = new BilevelTrainer(tinySet(), opts);
    let steps = 0;
    // Stopped after the second step of epoch 1 (steps 0-2 are epoch 0).
    await b.train({ epochs: 2, onLog: collect(part), shouldStop: () => ++steps === 5 });
    expect(b.epoch).toBe(1);
    await b.saveCheckpoint(dir);
    b.dispose();
    const c = new BilevelTrainer(tinySet(), opts);
    await c.loadCheckpoint(dir);
    await c.train({ epochs: 2, onLog: collect(part) });
    expect(part.map((r) => [r.step, r.epoch])).toEqual(full.map((r) => [r.step, r.epoch]));
    for (let i = 0; i < full.length; i++) expect(part[i]!.loss).toBeCloseTo(full[i]!.loss, 5);
    expect(Array.from(c.generator.params.get('G/head/w')!.dataSync())).toEqual(Array.from(a.generator.params.get('G/head/w')!.dataSync()));
    a.dispose();
    c.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops at the first non-finite loss or weight, naming the epoch, the step and the learning rate to lower', async () => {
    const opts = { ...TINY_OPTIONS, stepsPerEpoch: 2, schedule: { unit: 'step' as const, surrogate: 1, generator: 1 } };
    const t = new BilevelTrainer(tinySet(), opts);
    const steps: number[] = [];
    // After epoch 0, poison one of G's weights: the next G step's loss is NaN.
    const run = t.train({
      epochs: 3,
      onLog: (r) => void (r.kind === 'step' && steps.push(r.step)),
      onEpoch: () => void t.generator.params.get('G/head/b')!.assign(tf.tensor1d([NaN, 0, 0])),
    });
    await expect(run).rejects.toThrow(TrainingDivergedError);
    // (tfjs clips the NaN noise into the image, so here the weights show it before the loss does.)
    await expect(run).rejects.toThrow(
      "training diverged at epoch 1, step 3 (a generator step): the generator's weights are no longer finite after the update; the generator's learning rate 0.01 is probably too high: try a lower --lr-g",
    );
    expect(steps).toEqual([0, 1, 2]);
    t.dispose();
  });

  it('refuses to hand over a generator whose weights are finite but whose noise is not', () => {
    const t = new BilevelTrainer(tinySet(), TINY_OPTIONS);
    t.checkGeneratorOutput();
    t.generator.params.get('G/head/w')!.assign(tf.fill(t.generator.params.get('G/head/w')!.shape, 3e38));
    expect(() => t.checkGeneratorOutput()).toThrow(/the generator's noise is not finite \(its largest weight is 3.00e\+38\)/);
    t.dispose();
  });

  it('the diagnostic reports losses and noise statistics within their ranges', () => {
    const t = new BilevelTrainer(tinySet(), TINY_OPTIONS);
    const d = t.diagnose();
    for (const v of [d.trueClean, d.trueG, d.trueUniform, d.trueSign, d.targetG, d.targetUniform]) expect(v).toBeGreaterThan(0);
    expect(d.noiseSpatialStd).toBeGreaterThan(0);
    expect(d.noiseSaturated).toBeGreaterThanOrEqual(0);
    expect(d.noiseSaturated).toBeLessThanOrEqual(1);
    t.dispose();
  });
});

describe('mean penalty', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  it("pushes G's per-channel noise mean toward zero", () => {
    // Start from a G whose head bias makes a strong tint, without centring, so only the penalty can remove it.
    const meanAbs = (penalty: number) => {
      const t = new BilevelTrainer(tinySet(), { ...TINY_OPTIONS, centre: false, meanPenalty: penalty, lrGenerator: 5e-2 });
      t.generator.params.get('G/head/b')!.assign(tf.tensor1d([1.5, -1.5, 1]));
      const b = t.makeBatch([0, 1]);
      for (let i = 0; i < 6; i++) t.generatorStep(b);
      const v = tf.tidy(() => t.generator.forward(b.x, b.mask).mean([1, 2]).abs().mean().dataSync()[0]!);
      t.dispose();
      return v;
    };
    expect(meanAbs(50)).toBeLessThan(meanAbs(0) * 0.8);
  });
});
