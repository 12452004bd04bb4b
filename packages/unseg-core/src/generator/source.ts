import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import type { NoiseRequest, NoiseSource } from '../noise/types.js';
import { selectBackend, type BackendName } from './backend.js';
import { loadTensors, paramsFromTensors, saveTensors, type WeightsFile } from './checkpoint.js';
import { buildGenerator, carrierSign, GENERATOR_PREFIX, generatorSpec, workingShape, type Generator, type GeneratorConfig } from './model.js';
import { bilinearResize, resampleTo } from './resample.js';
import { directionPool } from '../pixels/pool.js';
import { isFile } from '../plugin/safe-paths.js';
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

/**
 * sha256 over the weights as loadTensors reads them: `model.json` and each file its manifest
 * lists (one `model.weights.bin` for what saveGenerator writes).
 */
async function weightsSha256(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const json = await readFile(path.join(dir, `${GENERATOR_WEIGHTS_STEM}.json`));
  hash.update(json);
  const manifest = (JSON.parse(json.toString('utf8')) as WeightsFile).weightsManifest;
  for (const group of manifest) for (const p of group.paths) hash.update(await readFile(path.join(dir, p)));
  return hash.digest('hex');
}

/**
 * Loads a trained generator. A missing or incomplete directory is a ConfigError: running the
 * pipeline with untrained weights would publish "protected" data that is not protected.
 */
export async function loadGenerator(dir: string): Promise<Generator> {
  const configFile = path.join(dir, GENERATOR_CONFIG_FILE);
  const weightsFile = path.join(dir, `${GENERATOR_WEIGHTS_STEM}.json`);
  if (!(await isFile(configFile)) || !(await isFile(weightsFile))) {
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
  if (!Number.isInteger(config.workingSize) || config.workingSize < 8) {
    throw new ConfigError(`${configFile}: workingSize must be an integer of at least 8 pixels, got ${JSON.stringify(config.workingSize)}`);
  }
  if (!Array.isArray(config.widths) || config.widths.length === 0 || !config.widths.every((w) => Number.isInteger(w) && w > 0)) {
    throw new ConfigError(`${configFile}: widths must be a list of positive integers, got ${JSON.stringify(config.widths)}`);
  }
  let tensors: Map<string, tf.Tensor>;
  try {
    tensors = await loadTensors(dir, GENERATOR_WEIGHTS_STEM);
  } catch (cause) {
    throw new ConfigError(`${weightsFile}: the weights cannot be read (${(cause as Error).message}): the folder is incomplete or damaged`, { cause });
  }
  try {
    const bad = nonFiniteWeights(tensors);
    if (bad > 0) {
      throw new ConfigError(
        `${path.join(dir, `${GENERATOR_WEIGHTS_STEM}.weights.bin`)}: ${bad} weights are not finite numbers (NaN or Infinity): the training that made them diverged, ` +
          'and such a generator publishes images with no noise; train again with lower learning rates',
      );
    }
    return buildGenerator(config, paramsFromTensors(tensors, unetParamShapes(generatorSpec(config)), GENERATOR_PREFIX));
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw new ConfigError(`${weightsFile}: ${(cause as Error).message}`, { cause });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

function nonFiniteWeights(tensors: ReadonlyMap<string, tf.Tensor>): number {
  let bad = 0;
  for (const t of tensors.values()) {
    for (const v of t.dataSync()) if (!Number.isFinite(v)) bad++;
  }
  return bad;
}

/**
 * Refuses a generator whose noise is nothing: all-zero (or constant, which centring removes)
 * weights give zero noise, and a run with it would publish unprotected images that pass every
 * budget check. G runs once on a textured probe image at its working size, half of it prompted.
 */
export function checkGeneratorMakesNoise(generator: Generator, dir: string): void {
  const size = generator.config.workingSize;
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + ((i / 3) >> 4) * 11) % 256;
  const prompt = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) prompt.fill(1, y * size, y * size + (size >> 1));
  const [noise] = generateNoise(generator, [{ id: 'probe', image: { width: size, height: size, data }, prompt: { width: size, height: size, data: prompt } }]);
  let max = 0;
  for (const v of noise!) {
    if (!Number.isFinite(v)) throw new ConfigError(`generator ${dir}: its noise on a probe image is not finite (NaN or Infinity): it cannot protect anything`);
    max = Math.max(max, Math.abs(v));
  }
  // 1/16 of the range is half an 8-bit step at the default 8/255 budget: anything below rounds away.
  if (max < 1 / 16) {
    throw new ConfigError(
      `generator ${dir}: its noise on a probe image is at most ${max.toExponential(2)} of the budget, which rounds to no change ` +
        'in the published pixels: it would publish unprotected images (untrained or collapsed weights?)',
    );
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
    if (!(await isFile(path.join(dir, GENERATOR_CONFIG_FILE)))) return loadGenerator(dir);
    const backend = await selectBackend(options.backend ?? 'auto');
    const g = await loadGenerator(dir);
    try {
      checkGeneratorMakesNoise(g, dir);
    } catch (error) {
      g.dispose();
      throw error;
    }
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
      // Two generators with one generator.json (weights copied over, retrained in place) publish
      // different noise: a resume must tell them apart.
      weightsSha256: await weightsSha256(dir),
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
