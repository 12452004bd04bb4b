import { ConfigError, SampleError, acquireOutputLock } from '@unseg/core';
import { selectBackend } from '@unseg/core/generator';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tinyReader, tinySamples } from './test-helpers/reader.js';
import { TINY_OPTIONS } from './test-helpers/tiny.js';
import { trainGenerator, type TrainGeneratorOptions } from './run.js';
import { TrainingDivergedError } from './trainer.js';

// Two steps per epoch, alternating S and G, with a diagnostic every other step: every kind of log line.
const TRAINER = { ...TINY_OPTIONS, stepsPerEpoch: 2, diagnosticEvery: 2, schedule: { unit: 'step' as const, surrogate: 1, generator: 1 } };

let tmp: string;
beforeAll(async () => {
  await selectBackend('wasm');
});
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'unseg-train-run-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function train(out: string, extra: Partial<TrainGeneratorOptions> = {}): Promise<void> {
  await trainGenerator({ sources: [{ reader: tinyReader(await tinySamples()), split: 'train' }], out, epochs: 3, size: 16, trainer: TRAINER, print: () => undefined, ...extra });
}

/** The log without its timings, which differ from run to run. */
async function logOf(out: string): Promise<unknown[]> {
  const text = await readFile(path.join(out, 'train-log.jsonl'), 'utf8');
  return text.split('\n').filter(Boolean).map((l) => ({ ...(JSON.parse(l) as Record<string, unknown>), ms: undefined }));
}

/** A reader that fails the test if the data is read: refusals must come before it. */
const untouchable = { reader: { ...tinyReader([]), samples: () => { throw new Error('the data was read'); } }, split: 'train' };

describe('trainGenerator: a crash while a checkpoint is written', () => {
  class Crash extends Error {}
  const crashIn = (epochs: number, where: 'afterFile' | 'beforeSwap', file?: string): TrainGeneratorOptions['checkpointHooks'] => {
    let saves = 0;
    return where === 'afterFile'
      ? {
          afterFile: (name) => {
            if (name === 'G') saves++;
            if (saves === epochs && name === file) throw new Crash(`crash after ${name}`);
          },
        }
      : {
          afterFile: (name) => void (name === 'G' && saves++),
          beforeSwap: () => {
            if (saves === epochs) throw new Crash('crash between the renames');
          },
        };
  };

  it.each([
    ['after the weights, before state.json', 'afterFile', 'S'],
    ['after every file, before the swap', 'beforeSwap', undefined],
  ] as const)('%s: --resume gives the same weights and log as an uninterrupted run', async (_name, where, file) => {
    const whole = path.join(tmp, 'whole');
    await train(whole);
    const out = path.join(tmp, 'crashed');
    await expect(train(out, { checkpointHooks: crashIn(2, where, file) })).rejects.toThrow(Crash);
    const lines: string[] = [];
    await train(out, { resume: true, print: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/checkpoint: (completed the interrupted swap|removed a half-written checkpoint)/);
    expect(await readdir(out)).not.toContain('checkpoint.next');
    expect(await logOf(out)).toEqual(await logOf(whole));
    for (const file of ['model.weights.bin', 'checkpoint/G.weights.bin', 'checkpoint/adamG.weights.bin', 'checkpoint/S.weights.bin']) {
      expect(await readFile(path.join(out, file))).toEqual(await readFile(path.join(whole, file)));
    }
  });
});

describe('trainGenerator: the output folder', () => {
  it('refuses to train over a generator or checkpoint without --resume', async () => {
    const out = path.join(tmp, 'g');
    await train(out, { epochs: 1 });
    const again = trainGenerator({ sources: [untouchable], out, epochs: 2, size: 16, trainer: TRAINER, print: () => undefined });
    await expect(again).rejects.toThrow(ConfigError);
    await expect(again).rejects.toThrow(`--out ${out} holds a generator and a checkpoint; pass --resume to continue it, or use another --out`);
  });

  it('refuses a folder of other files, a file, or a path through a file, and leaves no folder behind when refused', async () => {
    const foreign = path.join(tmp, 'shards');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'train-00000.parquet'), 'x');
    await expect(trainGenerator({ sources: [untouchable], out: foreign, epochs: 1, size: 16, trainer: TRAINER, print: () => undefined })).rejects.toThrow(
      `--out ${foreign} is not empty (it holds train-00000.parquet): train into a new or empty folder`,
    );
    const file = path.join(foreign, 'train-00000.parquet');
    await expect(trainGenerator({ sources: [untouchable], out: file, epochs: 1, size: 16, trainer: TRAINER, print: () => undefined })).rejects.toThrow(`--out ${file} is a file, not a folder`);
    await expect(trainGenerator({ sources: [untouchable], out: path.join(file, 'sub'), epochs: 1, size: 16, trainer: TRAINER, print: () => undefined })).rejects.toThrow(/a part of the path is a file/);
    const fresh = path.join(tmp, 'fresh', 'deeper', 'g');
    await expect(trainGenerator({ sources: [untouchable], out: fresh, epochs: 1, size: 7, trainer: TRAINER, print: () => undefined })).rejects.toThrow(ConfigError);
    await expect(trainGenerator({ sources: [{ reader: tinyReader([]), split: 'train' }], out: fresh, epochs: 1, size: 16, trainer: TRAINER, print: () => undefined })).rejects.toThrow(/no usable training samples/);
    expect(await readdir(tmp)).not.toContain('fresh');
  });

  it('starts afresh in a folder where a training died before its first checkpoint (only its log and lock are there), or that a file browser has shown', async () => {
    const out = path.join(tmp, 'died');
    await mkdir(out);
    await writeFile(path.join(out, 'train-log.jsonl'), '{"kind":"step"}\n');
    await writeFile(path.join(out, '.DS_Store'), 'x');
    await train(out, { epochs: 1 });
    expect((await logOf(out)).length).toBeGreaterThan(1);
  });

  it('keeps the command of every run of a folder, and leaves a folder that has reached --epochs untouched', async () => {
    const out = path.join(tmp, 'g');
    await train(out, { epochs: 1, provenance: { command: 'first' } });
    await train(out, { epochs: 2, resume: true, provenance: { command: 'second' } });
    const generator = () => readFile(path.join(out, 'generator.json'), 'utf8');
    const training = (JSON.parse(await generator()) as { training: { command: string; commands: string[]; epochs: number } }).training;
    expect(training).toMatchObject({ command: 'second', commands: ['first', 'second'], epochs: 2 });
    const before = await generator();
    const lines: string[] = [];
    const result = await trainGenerator({ sources: [{ reader: tinyReader(await tinySamples()), split: 'train' }], out, epochs: 2, size: 16, trainer: TRAINER, resume: true, provenance: { command: 'third' }, print: (l) => lines.push(l) });
    expect(result).toMatchObject({ alreadyDone: true, epochs: 2 });
    expect(lines.join('\n')).toMatch(/nothing to train: the checkpoint has reached epoch 2 .* and --epochs is 2/);
    expect(await generator()).toBe(before);
  });

  it('refuses a second training into a folder another one is writing', async () => {
    const out = path.join(tmp, 'busy');
    const held = await acquireOutputLock(out);
    try {
      await expect(trainGenerator({ sources: [untouchable], out, epochs: 1, size: 16, trainer: TRAINER, print: () => undefined })).rejects.toThrow(/in use|lock/i);
    } finally {
      await held.release();
    }
  });

  it('refuses --resume where there is no checkpoint', async () => {
    const out = path.join(tmp, 'empty');
    await expect(trainGenerator({ sources: [untouchable], out, epochs: 1, size: 16, trainer: TRAINER, resume: true, print: () => undefined })).rejects.toThrow(
      /--resume: --out .*empty holds no checkpoint to continue/,
    );
  });

  it('refuses --resume with settings that change the training, naming each', async () => {
    const out = path.join(tmp, 'g');
    await train(out, { epochs: 1 });
    const resume = (extra: Partial<TrainGeneratorOptions>) =>
      trainGenerator({ sources: [{ reader: tinyReader([], '/tiny-data'), split: 'train' }], out, epochs: 2, size: 16, trainer: TRAINER, resume: true, print: () => undefined, ...extra });
    await expect(resume({ size: 32 })).rejects.toThrow(/was trained with other settings \(--size was 16, now 32\)/);
    await expect(resume({ trainer: { ...TRAINER, seed: 4, meanPenalty: 2 } })).rejects.toThrow(/--mean-penalty was 0, now 2; --seed was 3, now 4/);
  });

  it('resumes on the same data at another path, and refuses changed data at the same path', async () => {
    const out = path.join(tmp, 'g');
    await train(out, { epochs: 1 });
    const lines: string[] = [];
    const resume = (reader: ReturnType<typeof tinyReader>) =>
      trainGenerator({ sources: [{ reader, split: 'train' }], out, epochs: 2, size: 16, trainer: TRAINER, resume: true, print: (l) => lines.push(l) });
    const samples = await tinySamples();
    // One image repaired, replaced or dropped: the path is the same, the data is not.
    await expect(resume(tinyReader(samples.slice(1)))).rejects.toThrow(/--resume: the training data differs from what the checkpoint .* was trained on/);
    await expect(resume(tinyReader(samples, '/moved/tiny-data'))).resolves.toMatchObject({ epochs: 2 });
    expect(lines).toContain('data: the same training data as the checkpoint\'s, now at /moved/tiny-data@train (was /tiny-data@train)');
  });
});

describe('trainGenerator: stopping early', () => {
  it('an aborted signal stops at the next step with a checkpoint, and --resume then matches an uninterrupted run', async () => {
    const full = path.join(tmp, 'full');
    await train(full, { epochs: 2 });
    const out = path.join(tmp, 'stopped');
    const controller = new AbortController();
    const lines: string[] = [];
    let steps = 0;
    const reader = tinyReader(await tinySamples());
    // Aborted when the first diagnostic line (step 2, the end of epoch 1) is printed.
    const result = await trainGenerator({
      sources: [{ reader, split: 'train' }],
      out,
      epochs: 2,
      size: 16,
      trainer: TRAINER,
      signal: controller.signal,
      print: (l) => {
        lines.push(l);
        if (l.startsWith('step ') && ++steps === 1) controller.abort();
      },
    });
    expect(result.stopped).toBe('signal');
    expect(result.steps).toBe(2);
    expect(lines.join('\n')).toMatch(/stopped by the signal at step 2, after epoch 1 of 2: checkpoint and generator saved; rerun the same command with --resume/);
    const resumed = await trainGenerator({ sources: [{ reader, split: 'train' }], out, epochs: 2, size: 16, trainer: TRAINER, resume: true, print: () => undefined });
    expect(resumed.stopped).toBeUndefined();
    expect(await readFile(path.join(out, 'model.weights.bin'))).toEqual(await readFile(path.join(full, 'model.weights.bin')));
    expect(await logOf(out)).toEqual(await logOf(full));
  });
});

describe('trainGenerator: a signal while the data is read', () => {
  it('stops without training or writing anything, and leaves no folder it made', async () => {
    const controller = new AbortController();
    controller.abort();
    const out = path.join(tmp, 'early');
    const lines: string[] = [];
    const result = await trainGenerator({ sources: [{ reader: tinyReader(await tinySamples()), split: 'train' }], out, epochs: 2, size: 16, trainer: TRAINER, signal: controller.signal, print: (l) => lines.push(l) });
    expect(result).toMatchObject({ stopped: 'signal', steps: 0 });
    expect(lines).toContain('stopped by the signal while reading the training data: nothing was trained, and nothing in --out changed');
    expect(await readdir(tmp)).not.toContain('early');
  });
});

describe('trainGenerator: settings checked before the data is read', () => {
  const start = (extra: Partial<TrainGeneratorOptions>) =>
    trainGenerator({ sources: [untouchable], out: path.join(tmp, 'x'), epochs: 1, size: 16, trainer: TRAINER, print: () => undefined, ...extra });
  it('refuses a working size the networks cannot take', async () => {
    const paper = { ...TRAINER, generatorWidths: [16, 32, 64], surrogateWidths: [16, 32, 64] };
    await expect(start({ size: 50, trainer: paper })).rejects.toThrow('--size 50: the working size must be a multiple of 4');
    await expect(start({ size: 4, trainer: paper })).rejects.toThrow(/--size 4: .* at least 16/);
  });
  it('refuses numbers that are not numbers or out of range', async () => {
    await expect(start({ trainer: { ...TRAINER, lrGenerator: Number('abc') } })).rejects.toThrow('--lr-g NaN: expected a number > 0');
    await expect(start({ trainer: { ...TRAINER, lrSurrogate: 0 } })).rejects.toThrow('--lr-s 0: expected a number > 0');
    await expect(start({ epochs: 1.5 })).rejects.toThrow(ConfigError);
  });
});

describe('trainGenerator: a diverging run', () => {
  it('stops at the first non-finite loss or weight, naming where, and keeps the last good generator and checkpoint', async () => {
    const out = path.join(tmp, 'nan');
    // Epoch 0 trains only S (warm-up), so it saves a good checkpoint; G's absurd rate then blows up.
    const trainer = { ...TRAINER, surrogateWarmupSteps: 2, lrGenerator: 1e30 };
    const lines: string[] = [];
    const error = await train(out, { epochs: 10, trainer, print: (l) => lines.push(l) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TrainingDivergedError);
    const diverged = error as TrainingDivergedError;
    expect(diverged.message).toMatch(/^training diverged (at|by) epoch \d+, step \d+.*: .*: try a lower --lr-g/);
    const state = JSON.parse(await readFile(path.join(out, 'checkpoint/state.json'), 'utf8')) as { epoch: number; step: number };
    expect(state.epoch).toBeGreaterThan(0);
    expect(lines.join('\n')).toContain(`keeps the generator and checkpoint of epoch ${state.epoch} (step ${state.step})`);
    expect(state.step).toBeLessThanOrEqual(diverged.step);
    const generator = JSON.parse(await readFile(path.join(out, 'generator.json'), 'utf8')) as { training: { steps: number } };
    expect(generator.training.steps).toBe(state.step);
    expect((await logOf(out)).filter((r) => (r as { kind: string }).kind === 'step')).toHaveLength(state.step);
    expect(await readFile(path.join(out, 'train-log.jsonl'), 'utf8')).not.toContain('null');
  });

  it('writes no generator when the first epoch diverges', async () => {
    const out = path.join(tmp, 'nan0');
    await expect(train(out, { trainer: { ...TRAINER, lrSurrogate: 1e38, lrGenerator: 1e38 } })).rejects.toThrow(TrainingDivergedError);
    expect(await readdir(out)).toEqual(['train-log.jsonl']);
  });
});

describe('loadTrainingSet through trainGenerator: bad samples', () => {
  it('skips and lists them, and trains on the rest', async () => {
    const [a, b] = await tinySamples();
    const notAnImage = { ...a!, id: 'bad-image', image: { kind: 'bytes' as const, bytes: new Uint8Array([1, 2, 3]), name: 'bad.jpg' } };
    const badMask = { ...b!, id: 'bad-mask', objects: [{ ...b!.objects[0]!, mask: () => Promise.reject(new SampleError('ann.json', 'annotation 1: bad segmentation: truncated')) }] };
    const yielded = new SampleError('c.json', 'no image beside it');
    // Malformed by the plugin: objects not an array (the engine's shape check names it).
    const malformed = { ...a!, id: 'malformed', objects: null } as unknown as typeof a;
    const lines: string[] = [];
    await trainGenerator({ sources: [{ reader: tinyReader([a!, notAnImage, badMask, yielded, malformed!, b!]), split: 'train' }], out: path.join(tmp, 'skip'), epochs: 1, size: 16, trainer: TRAINER, print: (l) => lines.push(l) });
    const text = lines.join('\n');
    expect(text).toMatch(/skipped dataset .*: position 4 of split "train": sample malformed: objects must be an array, got null/);
    expect(text).toMatch(/skipped bad.jpg: cannot decode image: .*unsupported image format/);
    expect(text).toContain('skipped ann.json: annotation 1: bad segmentation: truncated');
    expect(text).toContain('skipped c.json: no image beside it');
    expect(text).toContain('data: 2 images, 2 objects at 16x16, 4 samples skipped (listed above)');
    const training = (JSON.parse(await readFile(path.join(tmp, 'skip', 'generator.json'), 'utf8')) as { training: { images: number; skippedSamples: number; skipped: { file: string }[] } }).training;
    expect(training.images).toBe(2);
    expect(training.skippedSamples).toBe(4);
    expect(training.skipped.map((e) => e.file)).toEqual(expect.arrayContaining(['bad.jpg', 'ann.json', 'c.json']));
  });

  it('says why no sample is usable: all unreadable, or none yielded', async () => {
    const start = (items: Parameters<typeof tinyReader>[0]) =>
      trainGenerator({ sources: [{ reader: tinyReader(items), split: 'train' }], out: path.join(tmp, 'none'), epochs: 1, size: 16, trainer: TRAINER, print: () => undefined });
    await expect(start([new SampleError('a.json', 'truncated')])).rejects.toThrow(/no usable training samples in \/tiny-data@train \(all 1 skipped as unreadable/);
    await expect(start([])).rejects.toThrow(/no usable training samples in \/tiny-data@train \(it yields no samples\)/);
  });
});
