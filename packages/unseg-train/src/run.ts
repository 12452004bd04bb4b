import * as tf from '@tensorflow/tfjs';
import type { DatasetReader } from '@unseg/core';
import { selectBackend, type BackendName } from '@unseg/core/generator';
import { appendFile, mkdir, readFile, access, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadTrainingSet } from './data.js';
import { BilevelTrainer, PAPER_OPTIONS, type DiagnosticRecord, type LogRecord, type TrainerOptions } from './trainer.js';

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
  /** Stop after this many minutes (at a step boundary), checkpointing and exporting what exists. */
  readonly maxMinutes?: number;
  readonly maxImages?: number;
  readonly minArea?: number;
  /** Free-form provenance stored in generator.json (e.g. the command line). */
  readonly provenance?: Record<string, unknown>;
  readonly print?: (line: string) => void;
}

export interface TrainGeneratorResult {
  readonly backend: string;
  readonly steps: number;
  readonly epochs: number;
  readonly seconds: number;
  readonly lastDiagnostic?: DiagnosticRecord;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * The whole training run behind `unseg-pipeline train` and tools/train-default-generator.mjs:
 * pre-decode the data, train, log every step as JSON lines, checkpoint and export the
 * generator after every epoch, resume from the checkpoint when asked.
 */
export async function trainGenerator(o: TrainGeneratorOptions): Promise<TrainGeneratorResult> {
  const print = o.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const backend = await selectBackend(o.backend ?? 'auto');
  print(`backend: ${backend}`);
  const options: TrainerOptions = { ...PAPER_OPTIONS, ...o.trainer };
  const size = o.size ?? 128;
  const t0 = Date.now();
  const data = await loadTrainingSet(o.sources, { size, maxImages: o.maxImages, minArea: o.minArea, log: print });
  const nObjects = data.masks.reduce((a, m) => a + m.length, 0);
  print(`data: ${data.images.length} images, ${nObjects} objects at ${size}x${size} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  await mkdir(o.out, { recursive: true });
  const ckpt = path.join(o.out, 'checkpoint');
  const logFile = path.join(o.out, 'train-log.jsonl');
  const trainer = new BilevelTrainer(data, options);
  let previousSeconds = 0;
  if (o.resume && (await exists(path.join(ckpt, 'state.json')))) {
    await trainer.loadCheckpoint(ckpt);
    const meta = JSON.parse(await readFile(path.join(ckpt, 'run.json'), 'utf8').catch(() => '{}')) as { seconds?: number };
    previousSeconds = meta.seconds ?? 0;
    print(`resumed at epoch ${trainer.epoch}, step ${trainer.step}`);
  } else {
    await writeFile(logFile, '');
  }
  const start = Date.now();
  const seconds = () => previousSeconds + (Date.now() - start) / 1000;
  let last: DiagnosticRecord | undefined;
  let pending: string[] = [];
  const flush = async () => {
    if (pending.length) await appendFile(logFile, pending.join(''));
    pending = [];
  };
  let sumS = 0, nS = 0, sumG = 0, nG = 0;
  const onLog = (r: LogRecord) => {
    pending.push(JSON.stringify(r) + '\n');
    if (r.kind === 'step') {
      if (r.phase === 'S') {
        sumS += r.loss;
        nS++;
      } else {
        sumG += r.loss;
        nG++;
      }
    } else {
      last = r;
      print(
        `step ${r.step} epoch ${r.epoch}: S loss ${nS ? (sumS / nS).toFixed(4) : '-'} G loss ${nG ? (sumG / nG).toFixed(4) : '-'} | ` +
          `true-mask loss clean ${r.trueClean.toFixed(3)} G ${r.trueG.toFixed(3)} uniform ${r.trueUniform.toFixed(3)} sign ${r.trueSign.toFixed(3)} | ` +
          `G-target loss G ${r.targetG.toFixed(3)} uniform ${r.targetUniform.toFixed(3)} | noise std ${r.noiseSpatialStd.toFixed(3)} |mean| ${r.noiseChannelMean.toFixed(3)} sat ${r.noiseSaturated.toFixed(3)}`,
      );
      sumS = nS = sumG = nG = 0;
    }
  };
  const provenance = () => ({
    ...o.provenance,
    seed: options.seed,
    epochs: trainer.epoch,
    steps: trainer.step,
    seconds: Math.round(seconds()),
    backend,
    machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`,
    trainerOptions: options,
    images: data.images.length,
    objects: nObjects,
    size,
  });
  const save = async () => {
    await flush();
    await trainer.saveCheckpoint(ckpt);
    await writeFile(path.join(ckpt, 'run.json'), JSON.stringify({ seconds: seconds() }));
    await trainer.exportGenerator(o.out, provenance());
  };
  const deadline = o.maxMinutes !== undefined ? start + o.maxMinutes * 60_000 : Infinity;
  await trainer.train({
    epochs: o.epochs,
    onLog,
    onEpoch: async (e) => {
      await save();
      print(`epoch ${e} done, checkpoint saved (${seconds().toFixed(0)} s, ${tf.memory().numTensors} tensors)`);
    },
    shouldStop: () => Date.now() > deadline,
  });
  await save();
  const result = { backend, steps: trainer.step, epochs: trainer.epoch, seconds: seconds(), ...(last ? { lastDiagnostic: last } : {}) };
  trainer.dispose();
  return result;
}
