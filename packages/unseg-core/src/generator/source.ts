import * as tf from '@tensorflow/tfjs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import type { NoiseRequest, NoiseSource } from '../noise/types.js';
import { selectBackend, type BackendName } from './backend.js';
import { loadTensors, paramsFromTensors, saveTensors } from './checkpoint.js';
import { buildGenerator, carrierSign, GENERATOR_PREFIX, generatorSpec, workingShape, type Generator, type GeneratorConfig } from './model.js';
import { bilinearResize, resampleTo } from './resample.js';
import { directionPool } from '../pixels/pool.js';
import { unetParamShapes } from './unet.js';

/** The generator shipped with @unseg/core (packages/unseg-core/models/default). */
export const DEFAULT_GENERATOR_DIR = fileURLToPath(new URL('../../models/default', import.meta.url));

export const GENERATOR_CONFIG_FILE = 'generator.json';
export const GENERATOR_WEIGHTS_STEM = 'model';

export async function saveGenerator(dir: string, generator: Generator): Promise<void> {
  await saveTensors(dir, GENERATOR_WEIGHTS_STEM, generator.params, { generator: generator.config });
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(dir, GENERATOR_CONFIG_FILE), JSON.stringify(generator.config, null, 2) + '\n');
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads a trained generator. A missing or incomplete directory is a ConfigError: running the
 * pipeline with untrained weights would publish "protected" data that is not protected.
 */
export async function loadGenerator(dir: string): Promise<Generator> {
  const configFile = path.join(dir, GENERATOR_CONFIG_FILE);
  const weightsFile = path.join(dir, `${GENERATOR_WEIGHTS_STEM}.json`);
  if (!(await exists(configFile)) || !(await exists(weightsFile))) {
    const what = path.resolve(dir) === path.resolve(DEFAULT_GENERATOR_DIR) ? 'no default generator is installed' : 'no trained generator found';
    throw new ConfigError(
      `${what} at ${dir} (expected ${GENERATOR_CONFIG_FILE} and ${GENERATOR_WEIGHTS_STEM}.json): ` +
        'train one with `unseg-pipeline train --data sa1b:<dir> --out <dir>` (or tools/train-default-generator.mjs) and pass --generator <dir>',
    );
  }
  let config: GeneratorConfig;
  try {
    config = JSON.parse(await readFile(configFile, 'utf8')) as GeneratorConfig;
  } catch (cause) {
    throw new ConfigError(`${configFile}: not valid JSON`, { cause });
  }
  if (config.format !== 'unseg-generator' || config.version !== 1) {
    throw new ConfigError(`${configFile}: not an unseg generator config (format ${String(config.format)}, version ${String(config.version)})`);
  }
  if (config.noise !== undefined && config.noise !== 'rgb' && config.noise !== 'luma') {
    throw new ConfigError(`${configFile}: noise must be "rgb" or "luma", got ${JSON.stringify(config.noise)}`);
  }
  if (config.carrier !== undefined && !(typeof config.carrier === 'number' && config.carrier > 0)) {
    throw new ConfigError(`${configFile}: carrier must be a positive stripe width, got ${JSON.stringify(config.carrier)}`);
  }
  const tensors = await loadTensors(dir, GENERATOR_WEIGHTS_STEM);
  try {
    return buildGenerator(config, paramsFromTensors(tensors, unetParamShapes(generatorSpec(config)), GENERATOR_PREFIX));
  } catch (cause) {
    throw new ConfigError(`${weightsFile}: ${(cause as Error).message}`, { cause });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/**
 * Noise directions for one batch: each image (and its prompt) is shrunk to G's working size by
 * area averaging, G runs once per group of equal working shapes, and its output is resized
 * bilinearly to the image's own size. Smooth, low-resolution noise survives the downscaling every
 * segmentation trainer does; fine texture made at full size would be averaged away.
 * `allocate` gives the full-size output arrays (the noise source passes its pool's).
 */
export function generateNoise(
  generator: Generator,
  batch: readonly NoiseRequest[],
  allocate: (length: number) => Float32Array = (length) => new Float32Array(length),
): Float32Array[] {
  const out: Float32Array[] = new Array<Float32Array>(batch.length);
  const groups = new Map<string, number[]>();
  const shapes = batch.map((r) => workingShape(generator.config, r.image.width, r.image.height));
  shapes.forEach((s, i) => {
    const key = s.join('x');
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  for (const idx of groups.values()) {
    const [wh, ww] = shapes[idx[0]!]!;
    const xs = new Float32Array(idx.length * wh * ww * 3);
    const ps = new Float32Array(idx.length * wh * ww);
    idx.forEach((i, j) => {
      const { image, prompt } = batch[i]!;
      xs.set(resampleTo(image.data, image.width, image.height, 3, ww, wh, 1 / 255), j * wh * ww * 3);
      ps.set(resampleTo(prompt.data, image.width, image.height, 1, ww, wh), j * wh * ww);
    });
    const small = tf.tidy(() => generator.field(tf.tensor4d(xs, [idx.length, wh, ww, 3]), tf.tensor4d(ps, [idx.length, wh, ww, 1])));
    const values = small.dataSync() as Float32Array;
    small.dispose();
    idx.forEach((i, j) => {
      const { width, height } = batch[i]!.image;
      const own = values.subarray(j * wh * ww * 3, (j + 1) * wh * ww * 3);
      const target = allocate(width * height * 3);
      if (width === ww && height === wh) target.set(own);
      else bilinearResize(own, ww, wh, 3, width, height, target);
      if (generator.config.carrier) applyCarrier(target, width, height, (generator.config.carrier * Math.min(width, height)) / generator.config.workingSize);
      out[i] = target;
    });
  }
  return out;
}

/** Multiplies each row of an HWC array by the carrier's sign, for stripes `stripe` pixels wide. */
function applyCarrier(values: Float32Array, width: number, height: number, stripe: number): void {
  const row = width * 3;
  for (let y = 0; y < height; y++) {
    if (carrierSign(y, stripe) > 0) continue;
    for (let i = y * row, end = i + row; i < end; i++) values[i] = -values[i]!;
  }
}

export interface GeneratorNoiseSourceOptions {
  /** A directory with generator.json + model.json + model.weights.bin; default: the shipped one. */
  readonly modelDir?: string;
  readonly backend?: BackendName;
  readonly batchSize?: number;
}

export async function createGeneratorNoiseSource(options: GeneratorNoiseSourceOptions = {}): Promise<NoiseSource> {
  const dir = options.modelDir ?? DEFAULT_GENERATOR_DIR;
  // Check the files before starting a backend, so a missing model fails fast and clearly.
  const generator = await (async () => {
    if (!(await exists(path.join(dir, GENERATOR_CONFIG_FILE)))) return loadGenerator(dir);
    const backend = await selectBackend(options.backend ?? 'auto');
    const g = await loadGenerator(dir);
    return Object.assign(g, { backend });
  })();
  const backend = tf.getBackend();
  const batchSize = options.batchSize ?? 8;
  const pool = directionPool(2 * batchSize);
  return {
    name: 'unseg',
    description: `UnSeg generator ${path.basename(path.resolve(dir))} (U-Net ${generator.config.widths.join('-')}, working size ${generator.config.workingSize}, backend ${backend})`,
    batchSize,
    settings: {
      modelDir: path.resolve(dir),
      widths: generator.config.widths,
      workingSize: generator.config.workingSize,
      ...(generator.config.carrier ? { carrier: generator.config.carrier } : {}),
      backend,
      ...(generator.config.training ? { training: generator.config.training } : {}),
    },
    async generate(batch) {
      return generateNoise(generator, batch, (length) => pool.take(length));
    },
    release(directions) {
      pool.give(directions);
    },
    async dispose() {
      generator.dispose();
    },
  };
}
