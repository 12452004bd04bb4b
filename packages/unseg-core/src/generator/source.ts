import * as tf from '@tensorflow/tfjs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import type { NoiseRequest, NoiseSource } from '../noise/types.js';
import { selectBackend, type BackendName } from './backend.js';
import { loadTensors, paramsFromTensors, saveTensors } from './checkpoint.js';
import { buildGenerator, GENERATOR_PREFIX, generatorSpec, workingShape, type Generator, type GeneratorConfig } from './model.js';
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
 * Resize to [h, w], averaging over the source pixels when shrinking: plain bilinear sampling
 * would alias, and G was trained on properly downscaled images.
 */
function shrink(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const k = Math.floor(Math.min(x.shape[1] / h, x.shape[2] / w));
  const pooled = k >= 2 ? tf.avgPool(x, k, k, 'valid') : x;
  return pooled.shape[1] === h && pooled.shape[2] === w ? pooled : tf.image.resizeBilinear(pooled, [h, w], false);
}

/**
 * Noise directions for one image: G runs at its working resolution and the result is resized
 * (bilinear) to the image's own size. Smooth, low-resolution noise survives the downscaling
 * every segmentation trainer does; fine texture made at full size would be averaged away.
 */
export function generateNoise(generator: Generator, batch: readonly NoiseRequest[]): Float32Array[] {
  const out: Float32Array[] = new Array<Float32Array>(batch.length);
  // Images are shrunk one at a time (stacking full-size images only costs memory copies); those
  // with the same working shape then share one forward pass of G.
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
    const small = tf.tidy(() => {
      const xs: tf.Tensor4D[] = [];
      const ps: tf.Tensor4D[] = [];
      for (const i of idx) {
        const { image, prompt } = batch[i]!;
        // Converting in JS: tfjs's own Uint8 -> int32 -> float path costs ~20x more at 1024x1024.
        const f = new Float32Array(image.data.length);
        for (let k = 0; k < f.length; k++) f[k] = image.data[k]! / 255;
        // A nested tidy frees each full-size tensor at once instead of holding the batch's.
        xs.push(tf.tidy(() => shrink(tf.tensor4d(f, [1, image.height, image.width, 3]), wh, ww)));
        ps.push(tf.tidy(() => shrink(tf.tensor4d(Float32Array.from(prompt.data), [1, image.height, image.width, 1]), wh, ww)));
      }
      return generator.forward(tf.concat(xs, 0), tf.concat(ps, 0));
    });
    idx.forEach((i, j) => {
      const { width, height } = batch[i]!.image;
      const up = tf.tidy(() => tf.image.resizeBilinear(small.slice([j, 0, 0, 0], [1, wh, ww, 3]), [height, width], false));
      out[i] = up.dataSync() as Float32Array;
      up.dispose();
    });
    small.dispose();
  }
  return out;
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
  return {
    name: 'unseg',
    description: `UnSeg generator ${path.basename(path.resolve(dir))} (U-Net ${generator.config.widths.join('-')}, working size ${generator.config.workingSize}, backend ${backend})`,
    batchSize,
    settings: {
      modelDir: path.resolve(dir),
      widths: generator.config.widths,
      workingSize: generator.config.workingSize,
      backend,
      ...(generator.config.training ? { training: generator.config.training } : {}),
    },
    async generate(batch) {
      return generateNoise(generator, batch);
    },
    async dispose() {
      generator.dispose();
    },
  };
}
