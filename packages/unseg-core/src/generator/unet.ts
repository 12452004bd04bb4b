import * as tf from '@tensorflow/tfjs';
import { conv2dSame } from './conv.js';

/**
 * A small U-Net written with plain variables and functions rather than tf.layers: the custom
 * convolution gradient and the freezing of one network while the other trains (bilevel
 * training) are then explicit, and the weights are just a name -> tensor map.
 */
export interface UNetSpec {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Channels per level; the input is halved (max pool) between levels. */
  readonly widths: readonly number[];
}

export type ParamMap = Map<string, tf.Variable>;

export function unetDivisor(spec: UNetSpec): number {
  return 2 ** (spec.widths.length - 1);
}

function convShapes(spec: UNetSpec): [string, number[]][] {
  const out: [string, number[]][] = [];
  const { widths } = spec;
  let cin = spec.inChannels;
  widths.forEach((w, i) => {
    out.push([`enc${i}/c0`, [3, 3, cin, w]], [`enc${i}/c1`, [3, 3, w, w]]);
    cin = w;
  });
  for (let i = widths.length - 2; i >= 0; i--) {
    const w = widths[i]!;
    out.push([`dec${i}/c0`, [3, 3, widths[i + 1]! + w, w]], [`dec${i}/c1`, [3, 3, w, w]]);
  }
  out.push(['head', [1, 1, widths[0]!, spec.outChannels]]);
  return out;
}

/** Parameter names and shapes in a fixed order (weights files follow it). */
export function unetParamShapes(spec: UNetSpec): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const [name, shape] of convShapes(spec)) {
    out.push([`${name}/w`, shape], [`${name}/b`, [shape[3]!]]);
  }
  return out;
}

/** He-normal weights from a seed, so that two runs with the same seed start identically. */
export function initUNet(spec: UNetSpec, prefix: string, seed: number, options?: { headScale?: number }): ParamMap {
  const params: ParamMap = new Map();
  let s = seed;
  for (const [name, shape] of unetParamShapes(spec)) {
    const full = `${prefix}/${name}`;
    let value: tf.Tensor;
    if (name.endsWith('/b')) value = tf.zeros(shape);
    else {
      const fanIn = shape[0]! * shape[1]! * shape[2]!;
      const scale = name.startsWith('head') ? (options?.headScale ?? 1) : 1;
      value = tf.randomNormal(shape, 0, scale * Math.sqrt(2 / fanIn), 'float32', s++);
    }
    // No tfjs name: tfjs names are global, and a loaded copy must coexist with the original.
    params.set(full, tf.variable(value, true));
    value.dispose();
  }
  return params;
}

function get(params: ParamMap, prefix: string, name: string): tf.Variable {
  const v = params.get(`${prefix}/${name}`);
  if (!v) throw new Error(`missing parameter ${prefix}/${name}`);
  return v;
}

function convRelu(x: tf.Tensor4D, params: ParamMap, prefix: string, name: string): tf.Tensor4D {
  const y = conv2dSame(x, get(params, prefix, `${name}/w`) as tf.Tensor4D).add(get(params, prefix, `${name}/b`));
  return tf.relu(y as tf.Tensor4D);
}

/** Raw (linear) output of the U-Net. H and W must be divisible by unetDivisor(spec). */
export function unetForward(spec: UNetSpec, params: ParamMap, prefix: string, x: tf.Tensor4D): tf.Tensor4D {
  const d = unetDivisor(spec);
  const [, h, w] = x.shape;
  if (h % d !== 0 || w % d !== 0) throw new RangeError(`input ${h}x${w} is not divisible by ${d}`);
  const skips: tf.Tensor4D[] = [];
  let y = x;
  spec.widths.forEach((_, i) => {
    if (i > 0) y = tf.maxPool(y, 2, 2, 'valid');
    y = convRelu(y, params, prefix, `enc${i}/c0`);
    y = convRelu(y, params, prefix, `enc${i}/c1`);
    skips.push(y);
  });
  for (let i = spec.widths.length - 2; i >= 0; i--) {
    const skip = skips[i]!;
    // resize + conv instead of conv2dTranspose: the latter has no wasm gradient kernel.
    const up = tf.image.resizeBilinear(y, [skip.shape[1], skip.shape[2]]);
    y = tf.concat([up, skip], 3);
    y = convRelu(y, params, prefix, `dec${i}/c0`);
    y = convRelu(y, params, prefix, `dec${i}/c1`);
  }
  const head = conv2dSame(y, get(params, prefix, 'head/w') as tf.Tensor4D).add(get(params, prefix, 'head/b'));
  return head as tf.Tensor4D;
}

export function countParams(params: ParamMap): number {
  let n = 0;
  for (const v of params.values()) n += v.size;
  return n;
}
