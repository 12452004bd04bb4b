import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { nodeShardFs, writeFileAtomic } from '../shards/fs.js';
import type { ParamMap } from './unet.js';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/**
 * Weights are stored as tfjs does (model.json with a weightsManifest + one .bin), so tfjs tools
 * can read them; what the network is lives in a separate config JSON written beside it.
 */
export interface WeightsFile {
  readonly format: 'unseg-weights';
  readonly weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  readonly userDefinedMetadata?: Record<string, unknown>;
}

/** Writes `${stem}.json` + `${stem}.weights.bin` for the named tensors (order kept). */
export async function saveTensors(
  dir: string,
  stem: string,
  tensors: readonly NamedTensor[] | ReadonlyMap<string, tf.Tensor>,
  metadata?: Record<string, unknown>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const list: NamedTensor[] =
    tensors instanceof Map ? [...tensors].map(([name, tensor]) => ({ name, tensor })) : [...(tensors as NamedTensor[])];
  const { data, specs } = await tf.io.encodeWeights(list);
  const bin = `${stem}.weights.bin`;
  await writeFileAtomic(nodeShardFs, dir, bin, new Uint8Array(data));
  const json: WeightsFile = {
    format: 'unseg-weights',
    weightsManifest: [{ paths: [bin], weights: specs }],
    ...(metadata ? { userDefinedMetadata: metadata } : {}),
  };
  await writeFileAtomic(nodeShardFs, dir, `${stem}.json`, new TextEncoder().encode(JSON.stringify(json, null, 1)));
}

/** Reads what saveTensors wrote; the caller owns (and disposes) the returned tensors. */
export async function loadTensors(dir: string, stem: string): Promise<Map<string, tf.Tensor>> {
  const json = JSON.parse(await readFile(path.join(dir, `${stem}.json`), 'utf8')) as WeightsFile;
  const out = new Map<string, tf.Tensor>();
  for (const group of json.weightsManifest) {
    const buffers = await Promise.all(group.paths.map((p) => readFile(path.join(dir, p))));
    const joined = Buffer.concat(buffers);
    const ab = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer;
    const decoded = tf.io.decodeWeights(ab, group.weights);
    for (const [k, v] of Object.entries(decoded)) out.set(k, v);
  }
  return out;
}

/** Variables from saved tensors, checked against the expected names and shapes. */
export function paramsFromTensors(tensors: Map<string, tf.Tensor>, expected: [string, number[]][], prefix: string): ParamMap {
  const params: ParamMap = new Map();
  for (const [name, shape] of expected) {
    const full = `${prefix}/${name}`;
    const t = tensors.get(full);
    if (!t) throw new Error(`weights lack ${full}`);
    if (t.shape.join('x') !== shape.join('x')) throw new Error(`${full} has shape ${t.shape.join('x')}, expected ${shape.join('x')}`);
    params.set(full, tf.variable(t, true));
  }
  return params;
}
