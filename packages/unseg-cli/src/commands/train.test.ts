import { ConfigError } from '@unseg/core';
import { PAPER_OPTIONS, type TrainerOptions } from '@unseg/train';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../program.js';
import { cliInProcess } from '../test-helpers/in-process.js';
import { parseDataSpec, parseNumber, parsePrompts, parseSchedule, parseTrainerOptions, type TrainCommandOptions } from './train.js';

// The mix's other settings ride along untouched; their values do not matter here.
const PROMPTS: TrainerOptions['prompts'] = { points: 0.7, box: 0.2, mask: 0.1, maxPoints: 3, pointSigma: 1 / 32, maskGrid: 8 };

describe('train option parsing', () => {
  it('reads plugin:dir[@split]', () => {
    expect(parseDataSpec('sa1b:../data/sa1b')).toEqual({ plugin: 'sa1b', dir: '../data/sa1b', split: undefined });
    expect(parseDataSpec('coco:data/coco-facades@train')).toEqual({ plugin: 'coco', dir: 'data/coco-facades', split: 'train' });
    expect(() => parseDataSpec('nodir')).toThrow(ConfigError);
  });
  it('reads the paper schedule and refuses zero units', () => {
    expect(parseSchedule('epoch:1:3')).toEqual({ unit: 'epoch', surrogate: 1, generator: 3 });
    expect(() => parseSchedule('epoch:0:3')).toThrow(/S, G >= 1/);
  });
  it('reads prompt weights', () => {
    expect(parsePrompts('points=1,box=0,mask=0', PROMPTS)).toMatchObject({ points: 1, box: 0, mask: 0 });
    expect(() => parsePrompts('points=0,box=0,mask=0', PROMPTS)).toThrow(/weight > 0/);
    expect(() => parsePrompts('scribble=1', PROMPTS)).toThrow(/expected e.g./);
    expect(parsePrompts('points=1', PROMPTS)).toEqual({ ...PROMPTS, points: 1 });
  });
});

describe('train: strict numbers, defaults in --help, --backend', () => {
  const defaults = () => {
    const train = buildProgram(() => undefined).commands.find((c) => c.name() === 'train')!;
    return Object.fromEntries(train.options.map((opt) => [opt.attributeName(), opt.defaultValue])) as unknown as TrainCommandOptions;
  };

  it('reads numbers strictly: not a number, NaN, Infinity or out of range is a usage error', () => {
    for (const bad of ['abc', '', ' ', 'NaN', 'Infinity', '0', '-1e-4']) expect(() => parseNumber(bad, '--lr-g', { above: 0 })).toThrow(ConfigError);
    expect(() => parseNumber('abc', '--lr-g', { above: 0 })).toThrow('--lr-g "abc": expected a number > 0');
    expect(parseNumber('1e-3', '--lr-g', { above: 0 })).toBe(1e-3);
    expect(parseNumber('0', '--mean-penalty', { atLeast: 0 })).toBe(0);
    expect(parseNumber('1', '--grey', { atLeast: 0, atMost: 1 })).toBe(1);
    expect(() => parseNumber('1.5', '--grey', { atLeast: 0, atMost: 1 })).toThrow('--grey "1.5": expected a number >= 0 and <= 1');
    const o = { ...defaults(), data: [], out: 'x' };
    expect(() => parseTrainerOptions({ ...o, lrG: 'abc' }, PAPER_OPTIONS, null)).toThrow('--lr-g "abc"');
    expect(() => parseTrainerOptions({ ...o, meanPenalty: '-1' }, PAPER_OPTIONS, null)).toThrow('--mean-penalty "-1": expected a number >= 0');
    expect(() => parseTrainerOptions({ ...o, seed: '1.5' }, PAPER_OPTIONS, null)).toThrow('--seed "1.5": expected a whole number');
    expect(() => parsePrompts('points=,box=1', PROMPTS)).toThrow(/expected e.g./);
  });

  it("shows each default in --help, and the defaults are the paper's settings", () => {
    const help = buildProgram(() => undefined).commands.find((c) => c.name() === 'train')!.helpInformation();
    for (const flag of ['--lr-g <lr>', '--lr-s <lr>', '--mean-penalty <w>', '--schedule <spec>', '--warmup <steps>', '--prompts <weights>', '--train-eps-fg <budget>', '--train-eps-bg <budget>', '--size <px>', '--batch <n>', '--diag-every <n>', '--backend <name>']) {
      // Each option's entry runs from its flag to the next line that starts with a flag.
      const entry = help.split(/\n(?= +-)/).find((e) => e.trim().startsWith(flag));
      expect(entry).toMatch(/default:/);
    }
    const parsed = parseTrainerOptions({ ...defaults(), data: [], out: 'x' }, PAPER_OPTIONS, null);
    const { seed: _seed, ...rest } = parsed;
    expect(rest).toMatchObject({
      batchSize: PAPER_OPTIONS.batchSize,
      lrGenerator: PAPER_OPTIONS.lrGenerator,
      lrSurrogate: PAPER_OPTIONS.lrSurrogate,
      meanPenalty: PAPER_OPTIONS.meanPenalty,
      schedule: PAPER_OPTIONS.schedule,
      surrogateWarmupSteps: PAPER_OPTIONS.surrogateWarmupSteps,
      prompts: PAPER_OPTIONS.prompts,
      trainEps: PAPER_OPTIONS.trainEps,
      diagnosticEvery: PAPER_OPTIONS.diagnosticEvery,
    });
  });

  it.each(['train', 'run'])('%s refuses an unknown --backend instead of falling back to wasm', async (name) => {
    const program = buildProgram(() => undefined);
    for (const c of [program, ...program.commands]) c.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    const args = name === 'train' ? ['train', '--data', 'sa1b:x', '--out', 'y'] : ['run', 'coco', '--in', 'x', '--out', 'y'];
    await expect(program.parseAsync(['node', 'unseg-pipeline', ...args, '--backend', 'bogus'])).rejects.toThrow(
      "option '--backend <name>' argument 'bogus' is invalid. Allowed choices are auto, tensorflow, wasm, cpu.",
    );
  });

  it('refuses a bad --size or --lr-g before reading any data', async () => {
    const base = ['train', '--data', 'sa1b:/no/such/folder', '--out', '/no/such/out'];
    const size = await cliInProcess([...base, '--size', '50']);
    expect(size.code).toBe(1);
    expect(size.stderr).toContain('unseg-pipeline: --size 50: the working size must be a multiple of 4');
    expect((await cliInProcess([...base, '--size', '4'])).stderr).toMatch(/--size 4: .*at least 16/);
    const lr = await cliInProcess([...base, '--lr-g', 'abc']);
    expect(lr.code).toBe(1);
    expect(lr.stderr).toContain('unseg-pipeline: --lr-g "abc": expected a number > 0');
  });
});

describe('train end to end (one tiny step)', () => {
  const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../plugin-sa1b/src/test-fixtures/sa1b/sa_000000');
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-cli-train-'));
    const dir = path.join(tmp, 'data', 'sa_000000');
    await fs.mkdir(dir, { recursive: true });
    const json = JSON.parse(await fs.readFile(path.join(fixture, 'sa_1.json'), 'utf8')) as { image: { file_name: string }; annotations: { segmentation: { counts: string } }[] };
    const write = async (stem: string, image: Buffer, j: unknown) => {
      await fs.writeFile(path.join(dir, `${stem}.jpg`), image);
      await fs.writeFile(path.join(dir, `${stem}.json`), JSON.stringify(j));
    };
    const jpg = await fs.readFile(path.join(fixture, 'sa_1.jpg'));
    await write('sa_1', jpg, { ...json, image: { ...json.image, file_name: 'sa_1.jpg' } });
    await write('sa_2', Buffer.from('this is not an image'), { ...json, image: { ...json.image, image_id: 2, file_name: 'sa_2.jpg' } });
    // The first mask's counts cut in the middle of a value (its last character has the continuation bit).
    const cut = json.annotations[0]!.segmentation.counts.slice(0, 3) + 'o';
    const truncated = { ...json, image: { ...json.image, image_id: 3, file_name: 'sa_3.jpg' }, annotations: [{ ...json.annotations[0]!, segmentation: { ...json.annotations[0]!.segmentation, counts: cut } }] };
    await write('sa_3', jpg, truncated);
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('skips bad samples naming each, then guards the output folder', async () => {
    const out = path.join(tmp, 'gen');
    const args = ['train', '--data', `sa1b:${path.join(tmp, 'data')}`, '--out', out, '--size', '16', '--batch', '1', '--epochs', '1', '--steps-per-epoch', '1', '--backend', 'wasm', '--diag-every', '0'];
    const first = await cliInProcess(args);
    expect(first.stderr).toMatch(/skipped .*sa_2\.jpg: cannot decode image: .*unsupported image format/);
    expect(first.stderr).toMatch(/skipped .*sa_3\.json: annotation \d+: bad segmentation: .*truncated/);
    expect(first.stderr).toContain('data: 1 images');
    expect(first.stderr).toContain('2 samples skipped');
    expect(first.code).toBe(0);
    await fs.access(path.join(out, 'model.weights.bin'));
    const again = await cliInProcess(args);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`unseg-pipeline: --out ${out} holds a generator and a checkpoint; pass --resume to continue it, or use another --out`);
    const other = await cliInProcess([...args, '--resume', '--seed', '2', '--mean-penalty', '10']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/--resume: the checkpoint in .* was trained with other settings \(--mean-penalty was 0, now 10; --seed was 1, now 2\)/);
    const same = await cliInProcess([...args, '--resume', '--epochs', '2']);
    expect(same.stderr).toContain('resumed at epoch 1, step 1');
    expect(same.code).toBe(0);
  });
});
