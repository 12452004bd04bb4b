import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { acquireLockFile, createClasswiseNoiseSource, NO_OBJECT, parseClassCodes } from '@unseg/core';
import { selectBackend } from '@unseg/core/generator';
import { binarizeCodes, classCodesDocument, codeSlots, projectCodes, trainClassCodes, type ClassCodesResult, type ClassCodesTrainingOptions } from './class-codes.js';
import type { TrainingSet } from './data.js';

/** Four 16x16 images, categories 1 and 2 as two bands (labels are categoryId + 1, as data.ts paints them). */
function labelledSet(): TrainingSet {
  const size = 16;
  const images: Float32Array[] = [];
  const labels: Uint8Array[] = [];
  for (let k = 0; k < 4; k++) {
    const img = new Float32Array(size * size * 3);
    const l = new Uint8Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const label = y < 4 + k ? 0 : x < 8 ? 2 : 3;
        l[y * size + x] = label;
        for (let c = 0; c < 3; c++) img[(y * size + x) * 3 + c] = 0.3 + 0.2 * ((label + c + k) % 3) + 0.02 * ((x * y) % 5);
      }
    }
    images.push(img);
    labels.push(l);
  }
  return { size, images, ids: ['a', 'b', 'c', 'd'], masks: images.map(() => []), labels };
}

const TINY: Omit<ClassCodesTrainingOptions, 'set'> = {
  seed: 5,
  rounds: 2,
  modelSteps: 2,
  batchSize: 2,
  tileCells: 2,
  cell: 2,
  crop: 16,
  scale: { min: 1, max: 1.5 },
  photometric: null,
  eps: { fg: 8 / 255, bg: 2 / 255 },
  step: 0.1,
  zeroMean: true,
  lr: 1e-2,
  widths: [4, 8],
};

describe('binarizeCodes', () => {
  it('sets the upper half of each code channel to +1 and the lower half to -1 (zero mean), or each value to its sign', () => {
    // One slot of 4 cells, channels interleaved: R = 0.3, -0.2, 0.1, -0.9; G = 0.5 at every cell (ties: by position); B = -0.1, 0, 0, 0.2.
    const v = Float32Array.from([0.3, 0.5, -0.1, -0.2, 0.5, 0, 0.1, 0.5, 0, -0.9, 0.5, 0.2]);
    const b = binarizeCodes(v, 1, 4, true);
    const channel = (x: Float32Array, c: number) => [0, 1, 2, 3].map((k) => x[k * 3 + c]);
    expect(channel(b, 0)).toEqual([1, -1, 1, -1]);
    expect(channel(b, 1)).toEqual([-1, -1, 1, 1]);
    expect(channel(b, 2)).toEqual([-1, -1, 1, 1]);
    expect(channel(binarizeCodes(v, 1, 4, false), 0)).toEqual([1, -1, 1, -1]);
    expect(channel(binarizeCodes(v, 1, 4, false), 2)).toEqual([-1, 1, 1, 1]);
  });
});

describe('projectCodes', () => {
  it('removes each code\'s mean per channel and keeps every value in [-1, 1]', () => {
    const v = Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => ((i * 37) % 11) / 11 - 0.2);
    const p = projectCodes(v, 2, 4, true);
    for (let s = 0; s < 2; s++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < 4; k++) sum += p[(s * 4 + k) * 3 + c]!;
        expect(Math.abs(sum)).toBeLessThan(1e-6);
      }
    }
    expect(projectCodes(Float32Array.from([3, -3, 0.5]), 1, 1, false)).toEqual(Float32Array.from([1, -1, 0.5]));
  });
  it('stays zero-mean where values sit at the bounds (the nearest such code, not the mean removed then clamped)', () => {
    // One channel of a 4-cell code; the other two channels zero. Removing the mean (0.5) then
    // clamping gives [0.5, 0.5, 0.5, -1], mean 0.125; the projection is [1/3, 1/3, 1/3, -1].
    const v = new Float32Array(12);
    [1, 1, 1, -1].forEach((x, k) => (v[k * 3] = x));
    const p = projectCodes(v, 1, 4, true);
    expect([0, 1, 2, 3].map((k) => p[k * 3]!)).toEqual([1 / 3, 1 / 3, 1 / 3, -1].map((x) => expect.closeTo(x, 6)));
  });
});

describe('codeSlots', () => {
  it('gives category c code (c - 1) mod K, the background slot K, cells repeated from the corner', () => {
    // 4x4 labels, K = 2 codes, tile 2x2 cells of 1 px: label 0 none, 2 = category 1, 3 = category 2, 4 = category 3.
    const labels = Uint8Array.from([0, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    const s = codeSlots(labels, 4, 2, 2, 1);
    expect(s[0]).toBe(2 * 4 + 0); // background, cell (0, 0)
    expect(s[1]).toBe(0 * 4 + 1); // category 1 -> code 0, cell (0, 1)
    expect(s[2]).toBe(1 * 4 + 0); // category 2 -> code 1, cell (0, 0) again: the tile repeats
    expect(s[3]).toBe(0 * 4 + 1); // category 3 -> code 0 (wraps), cell (0, 1)
    expect(s[15]).toBe(0 * 4 + 3); // category 1, cell (1, 1)
  });

  it('gives category 0 (classes numbered from 0) the last code, not the background slot', () => {
    // label 1 = category 0; K = 3 codes for categories 0, 1, 2.
    const s = codeSlots(Uint8Array.from([1, 2, 3, 0]), 2, 3, 1, 1);
    expect(Array.from(s)).toEqual([2, 0, 1, 3]);
  });
});

describe('trainClassCodes', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  let first: ClassCodesResult;
  it('learns one zero-mean code per category and one for the background, deterministically for a seed', async () => {
    first = await trainClassCodes({ set: labelledSet(), ...TINY });
    expect(first.categories).toEqual([1, 2]);
    expect(first.codes).toHaveLength(2);
    expect(first.history.map((h) => h.round)).toEqual([1, 2]);
    expect(first.stopped).toBe('rounds');
    for (const code of [...first.codes, first.background]) {
      expect(code).toHaveLength(3 * 2 * 2);
      for (let c = 0; c < 3; c++) {
        const plane = Array.from(code.subarray(c * 4, c * 4 + 4));
        expect(Math.abs(plane.reduce((a, b) => a + b, 0))).toBeLessThan(1e-5);
        for (const v of plane) expect(Math.abs(v)).toBeLessThanOrEqual(1);
      }
    }
    // Later rounds move the codes (a run of one round is the first round of a longer one; over
    // two batches of signed steps a value can step out and back, so two rounds may end level).
    const oneRound = await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 1 });
    const threeRounds = await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 3 });
    expect(threeRounds.codes).not.toEqual(oneRound.codes);
    const again = await trainClassCodes({ set: labelledSet(), ...TINY });
    expect(again.codes).toEqual(first.codes);
    const other = await trainClassCodes({ set: labelledSet(), ...TINY, seed: 6 });
    expect(other.codes).not.toEqual(first.codes);
  }, 60_000);

  it('gives a set whose classes are numbered from 0 one code per category, 0 included', async () => {
    const set = labelledSet();
    const zeroBased = { ...set, labels: set.labels!.map((l) => l.map((v) => (v > 0 ? v - 1 : 0))) }; // categories 0 and 1
    const r = await trainClassCodes({ set: zeroBased, ...TINY, rounds: 1 });
    expect(r.categories).toEqual([0, 1]);
    expect(r.codes).toHaveLength(2);
    // Published, each category gets the code it was trained with: category 0 the last (slot 1).
    const codes = parseClassCodes(JSON.parse(JSON.stringify(classCodesDocument(r, 1, {}))), 'codes.json', 'digest');
    const labels = Int32Array.from([0, 1, NO_OBJECT]);
    const [noise] = await createClasswiseNoiseSource({ pattern: 'codes', codes }).generate([
      { id: 'z', image: { width: 3, height: 1, data: new Uint8Array(9) }, prompt: { width: 3, height: 1, data: Uint8Array.from([1, 1, 0]) }, labels },
    ]);
    for (let c = 0; c < 3; c++) {
      expect(noise![c]).toBeCloseTo(r.codes[1]![c * 4]!, 3);
      expect(noise![3 + c]).toBeCloseTo(r.codes[0]![c * 4 + 1]!, 3);
      expect(noise![6 + c]).toBeCloseTo(r.background[c * 4]!, 3);
    }
  }, 60_000);

  it('learns binary codes: every value +1 or -1, half each way per code channel, moving over rounds', async () => {
    const three = await trainClassCodes({ set: labelledSet(), ...TINY, seed: 6, rounds: 3, binary: true });
    const one = await trainClassCodes({ set: labelledSet(), ...TINY, seed: 6, rounds: 1, binary: true });
    for (const code of [...three.codes, three.background]) {
      for (let c = 0; c < 3; c++) {
        const plane = Array.from(code.subarray(c * 4, c * 4 + 4));
        expect(plane.every((x) => x === 1 || x === -1)).toBe(true);
        expect(plane.reduce((a, x) => a + x, 0)).toBe(0);
      }
    }
    expect(three.codes).not.toEqual(one.codes);
  }, 60_000);

  it('learns achromatic codes (one value on R, G and B) that still move and stay zero-mean', async () => {
    // Seed 6: with seed 5 this tiny surrogate's ReLUs die in round 2 under grey codes, and no code moves after.
    const grey = await trainClassCodes({ set: labelledSet(), ...TINY, seed: 6, rounds: 3, achromatic: true });
    const oneRound = await trainClassCodes({ set: labelledSet(), ...TINY, seed: 6, rounds: 1, achromatic: true });
    for (const code of [...grey.codes, grey.background]) {
      const [r, g, b] = [0, 1, 2].map((c) => Array.from(code.subarray(c * 4, c * 4 + 4)));
      expect(g).toEqual(r);
      expect(b).toEqual(r);
      expect(Math.abs(r!.reduce((a, v) => a + v, 0))).toBeLessThan(1e-5);
    }
    expect(grey.codes).not.toEqual(oneRound.codes);
    // A free code has channels that differ: the tie is the option's doing.
    const free = first.codes[0]!;
    expect(Array.from(free.subarray(4, 8))).not.toEqual(Array.from(free.subarray(0, 4)));
  }, 60_000);

  it('with greyProb 1 trains against grey crops only: each cell steps the same way on R, G and B', async () => {
    // A step of 2 sets every value to minus the sign of its last gradient. Seen only through the
    // luma (the fixture's pixels never clip), a cell's three gradients share a sign; seen in
    // colour they need not, and this fixture has cells where they do not.
    const hard = { ...TINY, rounds: 1, modelSteps: 1, step: 2, zeroMean: false };
    const sameSign = (r: ClassCodesResult) =>
      [...r.codes, r.background].every((code) => [0, 1, 2, 3].every((k) => code[k] === code[4 + k] && code[k] === code[8 + k]));
    const grey = await trainClassCodes({ set: labelledSet(), ...hard, greyProb: 1 });
    for (const code of [...grey.codes, grey.background]) for (const x of code) expect(Math.abs(x)).toBe(1);
    expect(sameSign(grey)).toBe(true);
    expect(sameSign(await trainClassCodes({ set: labelledSet(), ...hard }))).toBe(false);
    await expect(trainClassCodes({ set: labelledSet(), ...TINY, greyProb: 1.5 })).rejects.toThrow(/greyProb 1.5/);
  }, 60_000);

  it('stops at the next batch when aborted, with what it learned', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await trainClassCodes({ set: labelledSet(), ...TINY, signal: controller.signal });
    expect(r.stopped).toBe('signal');
    expect(r.history).toHaveLength(0);
  });

  it('stops after the batch in flight when aborted mid-run (a signal handler gets its turn between steps)', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    const r = await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 50, signal: controller.signal });
    expect(r.stopped).toBe('signal');
    expect(r.history.length).toBeLessThan(2);
  });

  it('refuses a set without labels, and a crop the surrogate cannot take', async () => {
    const { labels: _, ...unlabelled } = labelledSet();
    await expect(trainClassCodes({ set: unlabelled, ...TINY })).rejects.toThrow(/withLabels/);
    await expect(trainClassCodes({ set: labelledSet(), ...TINY, crop: 15 })).rejects.toThrow(/--crop 15: must be a multiple of 2 \(the surrogate's 2 levels\)/);
  });

  it('writes a file the pipeline reads, painting each category with the code it was trained with', async () => {
    const doc = classCodesDocument(first, 3, { note: 'test' });
    const codes = parseClassCodes(JSON.parse(JSON.stringify(doc)), 'codes.json', 'digest');
    expect(codes.codes).toHaveLength(2);
    expect(codes.cellSize).toBe(3);
    // The pipeline's labels are category ids (NO_OBJECT: none); publish at 3 px per cell, 12x12.
    const size = 12;
    const labels = new Int32Array(size * size).map((_, p) => (p % size < 4 ? NO_OBJECT : p % size < 8 ? 1 : 2));
    const source = createClasswiseNoiseSource({ pattern: 'codes', codes });
    const [noise] = await source.generate([
      { id: 'x', image: { width: size, height: size, data: new Uint8Array(size * size * 3) }, prompt: { width: size, height: size, data: Uint8Array.from(labels, (l) => (l !== NO_OBJECT ? 1 : 0)) }, labels },
    ]);
    for (let p = 0; p < size * size; p++) {
      const y = Math.floor(p / size), x = p % size;
      const cell = (Math.floor(y / 3) % 2) * 2 + (Math.floor(x / 3) % 2);
      const code = labels[p] === NO_OBJECT ? first.background : first.codes[labels[p]! - 1]!;
      for (let c = 0; c < 3; c++) expect(noise![p * 3 + c]).toBeCloseTo(code[c * 4 + cell]!, 3);
    }
  });

  describe('checkpoints', () => {
    let tmp: string;
    beforeAll(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'unseg-codes-ckpt-'));
    });
    afterAll(async () => {
      await rm(tmp, { recursive: true, force: true });
    });
    /** What must come out the same: the codes, and each round's losses and probe (not its clock). */
    const learned = (r: ClassCodesResult) => ({ codes: r.codes, background: r.background, rounds: r.history.map(({ seconds: _, ...h }) => h) });

    it('continues a run stopped by the signal exactly where it stopped, and extends a finished one', async () => {
      const dir = path.join(tmp, 'a');
      const controller = new AbortController();
      const stopped = await trainClassCodes({
        set: labelledSet(),
        ...TINY,
        rounds: 3,
        checkpoint: { dir },
        signal: controller.signal,
        // Aborted as round 1 is reported: that round is finished, so it is the checkpoint's.
        log: (line) => (line.startsWith('round 1/') ? controller.abort() : undefined),
      });
      expect(stopped.stopped).toBe('signal');
      expect(stopped.history).toHaveLength(1);
      const lines: string[] = [];
      const resumed = await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 3, checkpoint: { dir, resume: true }, log: (l) => lines.push(l) });
      expect(lines).toContain('resuming after round 1 (' + Math.round(stopped.history[0]!.seconds) + ' s trained)');
      expect(resumed.stopped).toBe('rounds');
      expect(learned(resumed)).toEqual(learned(await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 3 })));
      // The checkpoint of the finished run, given one more round, is the four-round run.
      const extended = await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 4, checkpoint: { dir, resume: true } });
      expect(learned(extended)).toEqual(learned(await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 4 })));
      // Asked for no more rounds than it has, it trains nothing and returns what it holds.
      const same = await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 2, checkpoint: { dir, resume: true } });
      expect(learned(same)).toEqual(learned(extended));
    }, 60_000);

    it('refuses a run on a checkpoint that a live run holds, and frees it when it ends', async () => {
      const dir = path.join(tmp, 'locked');
      const other = await acquireLockFile(`${dir}.lock`, { subject: 'test', rule: 'held by the test.' });
      await expect(trainClassCodes({ set: labelledSet(), ...TINY, rounds: 1, checkpoint: { dir } })).rejects.toThrow(
        new RegExp(`checkpoint .*locked is in use by process ${process.pid} .*Two runs must not train into one checkpoint`),
      );
      await expect(access(path.join(dir, 'state.json'))).rejects.toThrow();
      await other.release();
      await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 1, checkpoint: { dir } });
      await access(path.join(dir, 'state.json'));
      await expect(access(`${dir}.lock`)).rejects.toThrow();
    }, 60_000);

    it('refuses to resume from nothing, from another run, and on other data', async () => {
      await expect(trainClassCodes({ set: labelledSet(), ...TINY, checkpoint: { dir: path.join(tmp, 'none'), resume: true } })).rejects.toThrow(/none holds no class-codes checkpoint/);
      const dir = path.join(tmp, 'b');
      await trainClassCodes({ set: labelledSet(), ...TINY, rounds: 1, checkpoint: { dir } });
      await access(path.join(dir, 'state.json'));
      await expect(trainClassCodes({ set: labelledSet(), ...TINY, step: 0.2, checkpoint: { dir, resume: true } })).rejects.toThrow(/belongs to another run \(step 0.1, now 0.2\)/);
      await expect(trainClassCodes({ set: labelledSet(), ...TINY, binary: true, checkpoint: { dir, resume: true } })).rejects.toThrow(/binary false, now true/);
      const relabelled = labelledSet();
      relabelled.labels![0]![0] = 3;
      await expect(trainClassCodes({ set: relabelled, ...TINY, checkpoint: { dir, resume: true } })).rejects.toThrow(/another run \(the training data \(pixels or labels\)\)/);
      const state = path.join(dir, 'state.json');
      await writeFile(state, JSON.stringify({ ...JSON.parse(await readFile(state, 'utf8')), version: 2 }));
      await expect(trainClassCodes({ set: labelledSet(), ...TINY, checkpoint: { dir, resume: true } })).rejects.toThrow(/not a class-codes checkpoint of version 1/);
    }, 60_000);
  });
});
