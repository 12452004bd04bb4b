import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { NoiseRequest } from '../noise/types.js';
import { selectBackend } from './backend.js';
import { buildGenerator, createGenerator, defaultGeneratorConfig, workingShape } from './model.js';
import { createGeneratorNoiseSource, DEFAULT_GENERATOR_DIR, generateNoise, loadGenerator, saveGenerator } from './source.js';

function request(id: string, w: number, h: number, seed: number): NoiseRequest {
  const data = new Uint8Array(w * h * 3).map((_, i) => (i * seed * 13 + seed) % 256);
  const prompt = new Uint8Array(w * h).map((_, i) => (i % w > w / 3 && i % w < (2 * w) / 3 ? 1 : 0));
  return { id, image: { width: w, height: h, data }, prompt: { width: w, height: h, data: prompt } };
}

describe('generator checkpoint and noise source', () => {
  let dir: string;
  beforeAll(async () => {
    await selectBackend('cpu');
    dir = await mkdtemp(path.join(os.tmpdir(), 'unseg-gen-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing model directory is a clear ConfigError, never untrained weights', async () => {
    const missing = path.join(dir, 'nope');
    await expect(createGeneratorNoiseSource({ modelDir: missing, backend: 'cpu' })).rejects.toThrow(ConfigError);
    await expect(createGeneratorNoiseSource({ modelDir: missing, backend: 'cpu' })).rejects.toThrow(/no trained generator found/);
    await expect(loadGenerator(missing)).rejects.toThrow(/--generator/);
  });

  it('DEFAULT_GENERATOR_DIR points at the package models/default folder', () => {
    expect(DEFAULT_GENERATOR_DIR.split(path.sep).slice(-3)).toEqual(['unseg-core', 'models', 'default']);
  });

  it('a saved and loaded generator gives the same noise, in [-1, 1], at the image size', async () => {
    const g = createGenerator(defaultGeneratorConfig({ widths: [4, 8], workingSize: 16 }), 3);
    const reqs = [request('a', 40, 24, 1), request('b', 40, 24, 2), request('c', 20, 20, 3)];
    const before = generateNoise(g, reqs);
    const out = path.join(dir, 'g1');
    await saveGenerator(out, g);
    const loaded = await loadGenerator(out);
    const after = generateNoise(loaded, reqs);
    expect(before.map((n) => n.length)).toEqual([40 * 24 * 3, 40 * 24 * 3, 20 * 20 * 3]);
    for (let i = 0; i < reqs.length; i++) {
      expect(Array.from(after[i]!)).toEqual(Array.from(before[i]!));
      expect(Math.max(...before[i]!.map(Math.abs))).toBeLessThanOrEqual(1);
    }
    // The images differ, so their noise must too (the batch is not one shared pattern).
    expect(Array.from(before[0]!)).not.toEqual(Array.from(before[1]!));
    const source = await createGeneratorNoiseSource({ modelDir: out, backend: 'cpu', batchSize: 2 });
    expect(source.name).toBe('unseg');
    expect(source.batchSize).toBe(2);
    const viaSource = await source.generate(reqs.slice(0, 1));
    expect(Array.from(viaSource[0]!)).toEqual(Array.from(before[0]!));
    // A released array is written again in full: same noise, same object.
    source.release!(viaSource);
    const reused = await source.generate(reqs.slice(1, 2));
    expect(reused[0]).toBe(viaSource[0]);
    expect(Array.from(reused[0]!)).toEqual(Array.from(before[1]!));
    await source.dispose?.();
    g.dispose();
    loaded.dispose();
  });

  /** A saved tiny generator whose generator.json is then replaced by edit(config). */
  async function savedWithConfig(name: string, edit: (config: Record<string, unknown>) => unknown): Promise<string> {
    const out = path.join(dir, name);
    const g = createGenerator(defaultGeneratorConfig({ widths: [4, 8] }), 1);
    await saveGenerator(out, g);
    g.dispose();
    const config = JSON.parse(await readFile(path.join(out, 'generator.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(out, 'generator.json'), JSON.stringify(edit(config)));
    return out;
  }

  /** A saved tiny generator whose every weight is then `value` (the .bin rewritten in place). */
  async function savedWithWeights(name: string, value: number): Promise<string> {
    const out = path.join(dir, name);
    const g = createGenerator(defaultGeneratorConfig({ widths: [4, 8], workingSize: 16 }), 1);
    await saveGenerator(out, g);
    g.dispose();
    const bin = path.join(out, 'model.weights.bin');
    const bytes = await readFile(bin);
    await writeFile(bin, Buffer.from(new Float32Array(bytes.byteLength / 4).fill(value).buffer));
    return out;
  }

  it('refuses weights that are not finite (a diverged training), naming the file', async () => {
    const out = await savedWithWeights('nan', Number.NaN);
    await expect(loadGenerator(out)).rejects.toThrow(/model\.weights\.bin: \d+ weights are not finite numbers \(NaN or Infinity\)/);
    await expect(createGeneratorNoiseSource({ modelDir: out, backend: 'cpu' })).rejects.toThrow(ConfigError);
  });

  it('refuses a generator whose noise rounds to nothing (all-zero weights), before any image is published', async () => {
    const out = await savedWithWeights('zeros', 0);
    await expect(createGeneratorNoiseSource({ modelDir: out, backend: 'cpu' })).rejects.toThrow(/its noise on a probe image is at most .* which rounds to no change/);
  });

  it('says a missing or truncated weights file leaves the folder incomplete, as a ConfigError', async () => {
    const out = await savedWithWeights('truncated', 0.1);
    const bin = path.join(out, 'model.weights.bin');
    await writeFile(bin, (await readFile(bin)).subarray(0, 100));
    await expect(loadGenerator(out)).rejects.toThrow(/model\.json: the weights cannot be read \(.*\): the folder is incomplete or damaged/);
    await rm(bin);
    await expect(loadGenerator(out)).rejects.toThrow(/the weights cannot be read .*ENOENT/);
  });

  it('refuses a workingSize or widths no network can have', async () => {
    await expect(loadGenerator(await savedWithConfig('size0', (c) => ({ ...c, workingSize: 0 })))).rejects.toThrow(/workingSize must be an integer of at least 8/);
    await expect(loadGenerator(await savedWithConfig('widths', (c) => ({ ...c, widths: [] })))).rejects.toThrow(/widths must be a list of positive integers/);
  });

  it('records a fingerprint of the weights, so that other weights under the same generator.json are told apart', async () => {
    const g = createGenerator(defaultGeneratorConfig({ widths: [4, 8], workingSize: 16 }), 1);
    const one = path.join(dir, 'fp');
    await saveGenerator(one, g);
    const first = await createGeneratorNoiseSource({ modelDir: one, backend: 'cpu' });
    const g2 = createGenerator(defaultGeneratorConfig({ widths: [4, 8], workingSize: 16 }), 2);
    await saveGenerator(one, g2);
    const second = await createGeneratorNoiseSource({ modelDir: one, backend: 'cpu' });
    expect(first.settings?.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(second.settings?.weightsSha256).not.toBe(first.settings?.weightsSha256);
    for (const x of [first, second]) await x.dispose?.();
    g.dispose();
    g2.dispose();
  });

  it('the shipped default generator passes the probe', async () => {
    const source = await createGeneratorNoiseSource({ backend: 'cpu' });
    expect(source.name).toBe('unseg');
    await source.dispose?.();
  });

  it('holds a very long image to a 4:1 working shape, so a strip does not exhaust the network', async () => {
    const config = defaultGeneratorConfig({ widths: [4, 8], workingSize: 16 });
    expect(workingShape(config, 8000, 50)).toEqual([2, 64]);
    expect(workingShape(config, 1024, 768)).toEqual([16, 22]);
    const g = createGenerator(config, 1);
    const [noise] = generateNoise(g, [request('strip', 400, 6, 1)]);
    expect(noise).toHaveLength(400 * 6 * 3);
    g.dispose();
  });

  it('rejects a config that is not an unseg generator', async () => {
    const out = await savedWithConfig('bad', () => ({ format: 'other', version: 1 }));
    await expect(loadGenerator(out)).rejects.toThrow(ConfigError);
  });

  it('a luma generator writes one grey texture to R, G and B, and survives a save and load', async () => {
    const g = createGenerator(defaultGeneratorConfig({ widths: [4, 8], workingSize: 16, noise: 'luma' }), 7);
    expect(g.params.get('G/head/w')!.shape).toEqual([1, 1, 4, 1]);
    const [noise] = generateNoise(g, [request('a', 32, 24, 4)]);
    let spread = 0;
    for (let p = 0; p < 32 * 24; p++) {
      expect(noise![p * 3 + 1]).toBe(noise![p * 3]);
      expect(noise![p * 3 + 2]).toBe(noise![p * 3]);
      spread = Math.max(spread, Math.abs(noise![p * 3]!));
    }
    expect(spread).toBeGreaterThan(0);
    const out = path.join(dir, 'luma');
    await saveGenerator(out, g);
    const loaded = await loadGenerator(out);
    expect(loaded.config.noise).toBe('luma');
    expect(Array.from(generateNoise(loaded, [request('a', 32, 24, 4)])[0]!)).toEqual(Array.from(noise!));
    g.dispose();
    loaded.dispose();
  });

  it('rejects an unknown noise kind in generator.json', async () => {
    const out = await savedWithConfig('badnoise', (config) => ({ ...config, noise: 'hsv' }));
    await expect(loadGenerator(out)).rejects.toThrow(/noise must be "rgb" or "luma"/);
  });

  it('centring removes a constant colour tint: a constant pre-tanh output gives zero noise', () => {
    const g = createGenerator(defaultGeneratorConfig({ widths: [4, 8] }), 5);
    // Zero every weight but the head bias: the network then outputs the bias everywhere.
    for (const [name, v] of g.params) v.assign(name === 'G/head/b' ? tf.tensor1d([3, -3, 2]) : tf.zerosLike(v));
    const n = tf.tidy(() => g.forward(tf.ones([1, 8, 8, 3]), tf.zeros([1, 8, 8, 1])).abs().max().dataSync()[0]!);
    expect(n).toBeLessThan(1e-6);
    g.dispose();
  });

  it('with a carrier, the noise is the carrier-free field, resized up, with every other stripe of rows negated', async () => {
    const plain = createGenerator(defaultGeneratorConfig({ widths: [4, 8], workingSize: 16 }), 5);
    const carried = buildGenerator({ ...plain.config, carrier: 1 }, plain.params);
    // 64 x 32 image, working size 16: stripes of 1 working row are 2 image rows wide.
    const req = request('s', 64, 32, 4);
    const [field] = generateNoise(plain, [req]);
    const [noise] = generateNoise(carried, [req]);
    const row = 64 * 3;
    for (let y = 0; y < 32; y++) {
      const sign = Math.floor(y / 2) % 2 === 0 ? 1 : -1;
      for (let i = y * row; i < (y + 1) * row; i++) expect(noise![i]).toBe(sign * field![i]!);
    }
    // Its training forward pass at the working size carries the same rows.
    const x = tf.randomUniform([1, 16, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const p = tf.ones([1, 16, 32, 1]) as tf.Tensor4D;
    const f = plain.forward(x, p).arraySync()[0]!;
    const c = carried.forward(x, p).arraySync()[0]!;
    for (let y = 0; y < 16; y++) for (let xx = 0; xx < 32; xx++) for (let k = 0; k < 3; k++) expect(c[y]![xx]![k]).toBeCloseTo((y % 2 ? -1 : 1) * f[y]![xx]![k]!, 6);
    // The carrier survives a save and load.
    const out = path.join(dir, 'carrier');
    await saveGenerator(out, carried);
    expect((await loadGenerator(out)).config.carrier).toBe(1);
    const [again] = generateNoise(await loadGenerator(out), [req]);
    expect(Array.from(again!)).toEqual(Array.from(noise!));
  });

  it('refuses a generator.json whose carrier is not a positive width', async () => {
    const g = createGenerator(defaultGeneratorConfig({ widths: [4, 8], workingSize: 16 }), 5);
    const out = path.join(dir, 'bad-carrier');
    await saveGenerator(out, g);
    const file = path.join(out, 'generator.json');
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), carrier: -2 }));
    await expect(loadGenerator(out)).rejects.toThrow(/carrier must be a positive stripe width/);
  });
});
