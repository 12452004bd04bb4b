import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, nodeShardFs, writeFileAtomic } from '@unseg/core';
import type { BackendName } from '@unseg/core/generator';
import { parseEps, parsePositiveInt } from '../options.js';
import { checkOutputFile } from '../out-path.js';
import { openTrainingSources, parseNumber, parseSeed } from './train.js';

export interface TrainCodesCommandOptions {
  data: string[];
  out: string;
  seed: string;
  /** Commander restricts it to selectBackend's names. */
  backend: BackendName;
  size: string;
  batch: string;
  rounds: string;
  modelSteps: string;
  tile: string;
  cell: string;
  publishCell: string;
  crop: string;
  scale: string;
  photometric: boolean;
  zeroMean: boolean;
  achromatic: boolean;
  binary: boolean;
  grey: string;
  epsFg: string;
  epsBg: string;
  step: string;
  lr: string;
  widths: string;
  maxMinutes?: string;
  maxImages?: string;
  checkpoint?: string;
  resume: boolean;
}

/** `min-max`, e.g. 0.5-2: the random rescale's range, as factors of the working size. */
export function parseScaleRange(text: string): { min: number; max: number } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  const min = m ? Number(m[1]) : NaN, max = m ? Number(m[2]) : NaN;
  if (!(min > 0 && max >= min)) throw new ConfigError(`--scale ${JSON.stringify(text)}: expected <min>-<max> with 0 < min <= max, e.g. 0.5-2`);
  return { min, max };
}

export function parseWidths(text: string): number[] {
  const widths = text.split(',').map((w) => Number(w.trim()));
  if (widths.length < 1 || widths.length > 5 || !widths.every((w) => Number.isInteger(w) && w >= 1)) {
    throw new ConfigError(`--widths ${JSON.stringify(text)}: expected 1 to 5 whole numbers >= 1, e.g. 16,32,64`);
  }
  return widths;
}

/** The median over images of sqrt(width * height): one side for images resized to a square without keeping aspect. */
export function medianSide(sizes: readonly { width: number; height: number }[]): number {
  const sides = sizes.map((s) => Math.sqrt(s.width * s.height)).sort((a, b) => a - b);
  if (sides.length === 0) return 0;
  const mid = sides.length >> 1;
  return Math.round(sides.length % 2 ? sides[mid]! : (sides[mid - 1]! + sides[mid]!) / 2);
}

/**
 * --publish-cell auto: the image pixels a working cell covers on images of that (median) side, so
 * that the codes are published at the scale they were learned at (2 px at 128 px is 16 px on
 * 1024-px images, 10 on 640-px ones).
 */
export function autoPublishCell(cell: number, size: number, side: number): number {
  return Math.max(1, Math.round((cell * side) / size));
}

/**
 * A new run would replace an earlier run's checkpoint round by round: refused without --resume,
 * as a resume without one is (`held`: @unseg/train's checkpointExists, which knows a save's names).
 */
function checkCheckpointFolder(dir: string, held: boolean, resume: boolean): void {
  if (held && !resume) throw new ConfigError(`--checkpoint ${dir} holds the checkpoint of an earlier run: pass --resume to continue it, or remove it to start again`);
  if (!held && resume) throw new ConfigError(`--resume: there is no checkpoint at ${dir} (it is --out's name + .checkpoint unless --checkpoint says otherwise)`);
}

/**
 * `unseg-pipeline train-codes`: learns a class-codes file by min-min against a from-scratch
 * semantic segmenter (see @unseg/train's trainClassCodes) and writes it where `run --noise
 * classwise --pattern codes --codes FILE` reads it.
 */
export async function trainCodesCommand(o: TrainCodesCommandOptions): Promise<number> {
  if (o.data.length === 0) throw new ConfigError('--data is required: e.g. --data coco:../shared/data/coco-facades@test');
  const seed = parseSeed(o.seed);
  const size = parsePositiveInt(o.size, '--size');
  const widths = parseWidths(o.widths);
  const crop = parsePositiveInt(o.crop, '--crop');
  const scale = parseScaleRange(o.scale);
  // TensorFlow.js loads with @unseg/train, so only once the options are known to parse.
  const { DEFAULT_PHOTOMETRIC, checkClassCodesGeometry, checkpointExists, classCodesDocument, loadTrainingSet, missingFolders, removeMadeFolders, trainClassCodes } = await import('@unseg/train');
  checkClassCodesGeometry({ size, crop, scale, widths });
  const settings = {
    seed,
    rounds: parsePositiveInt(o.rounds, '--rounds'),
    modelSteps: parsePositiveInt(o.modelSteps, '--model-steps'),
    batchSize: parsePositiveInt(o.batch, '--batch'),
    tileCells: parsePositiveInt(o.tile, '--tile'),
    cell: parsePositiveInt(o.cell, '--cell'),
    crop,
    scale,
    eps: { fg: parseEps(o.epsFg, '--eps-fg'), bg: parseEps(o.epsBg, '--eps-bg') },
    step: parseNumber(o.step, '--step', { above: 0 }),
    zeroMean: o.zeroMean,
    achromatic: o.achromatic,
    binary: o.binary,
    greyProb: parseNumber(o.grey, '--grey', { atLeast: 0, atMost: 1 }),
    lr: parseNumber(o.lr, '--lr', { above: 0 }),
    widths,
  };
  if (settings.eps.fg === 0 && settings.eps.bg === 0) throw new ConfigError('--eps-fg and --eps-bg are both 0: the codes would have no effect to learn from');
  const publishCellGiven = o.publishCell === 'auto' ? undefined : parsePositiveInt(o.publishCell, '--publish-cell');
  const maxMinutes = o.maxMinutes === undefined ? undefined : parseNumber(o.maxMinutes, '--max-minutes', { above: 0 });
  const maxImages = o.maxImages === undefined ? undefined : parsePositiveInt(o.maxImages, '--max-images');
  const out = path.resolve(o.out);
  await checkOutputFile(out, '--out');
  const checkpoint = path.resolve(o.checkpoint ?? `${out}.checkpoint`);
  checkCheckpointFolder(checkpoint, await checkpointExists(checkpoint), o.resume);
  // Made now, not after the training it would otherwise fail at the end of; whatever of it this
  // run made is taken back if the run ends with nothing in it (data refused, stopped before the
  // first round's checkpoint), so that a refused command leaves no folder behind.
  const made = await missingFolders(path.dirname(out));
  await mkdir(path.dirname(out), { recursive: true });
  try {
    const sources = await openTrainingSources(o.data);
    const { selectBackend } = await import('@unseg/core/generator');
    const backend = await selectBackend(o.backend);
    const print = (line: string) => process.stderr.write(`${line}\n`);
    print(`backend: ${backend}`);
    const controller = new AbortController();
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write('\nstopping after the step in flight; the codes learned so far are written if a round has ended (again: stop at once, no codes written; --resume continues from the last finished round)\n');
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const set = await loadTrainingSet(sources, { size, withLabels: true, maxImages, log: print, signal: controller.signal });
      const skipped = set.skipped?.length ?? 0;
      print(`${set.images.length} images read${skipped ? `, ${skipped} skipped as unreadable (listed above)` : ''}`);
      let publishCell = publishCellGiven;
      if (publishCell === undefined) {
        const side = medianSide(set.sourceSizes ?? []);
        publishCell = autoPublishCell(settings.cell, size, side);
        print(`publish cell: ${publishCell} px (--cell ${settings.cell} at ${size} px, for images of median side ${side} px)`);
      }
      const result = await trainClassCodes({
        set,
        ...settings,
        photometric: o.photometric ? DEFAULT_PHOTOMETRIC : null,
        ...(maxMinutes !== undefined ? { maxMinutes } : {}),
        checkpoint: { dir: checkpoint, resume: o.resume },
        signal: controller.signal,
        log: print,
      });
      if (result.history.length === 0) {
        print(`stopped before the first round ended: nothing written (${out} left as it was)`);
        return 130;
      }
      const doc = classCodesDocument(result, publishCell, {
        command: ['unseg-pipeline', ...process.argv.slice(2)].join(' '),
        backend,
        data: o.data,
        images: set.images.length,
        skipped,
        categories: result.categories,
        settings: { ...settings, size, publishCell, photometric: o.photometric },
        stopped: result.stopped,
        ...(result.resumedAfter ? { resumedAfterRound: result.resumedAfter } : {}),
        seconds: Math.round(result.seconds),
        history: result.history,
      });
      // Written whole or not at all: a killed run never leaves a half file that `run` would refuse.
      await writeFileAtomic(nodeShardFs, path.dirname(out), path.basename(out), new TextEncoder().encode(JSON.stringify(doc) + '\n'));
      const last = result.history.at(-1);
      print(
        `${result.history.length} rounds in ${result.seconds.toFixed(0)} s on ${backend} (stopped: ${result.stopped})` +
          (last ? `; last probe: clean ${last.probe.clean.toFixed(3)}, random codes ${last.probe.random.toFixed(3)}, learned ${last.probe.learned.toFixed(3)}` : '') +
          `\nclass codes written to ${out}: ${result.codes.length} codes + background, ${result.rows}x${result.cols} cells of ${publishCell}px` +
          `\ncheckpoint: ${checkpoint} (--resume with more --rounds continues it; remove it once the codes are final)`,
      );
      return result.stopped === 'signal' ? 130 : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  } finally {
    await removeMadeFolders(made);
  }
}
