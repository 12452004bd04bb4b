import * as tf from '@tensorflow/tfjs';
import { applyBudgetedNoise, type NoiseRequest } from '@unseg/core';
import { generateNoise, initUNet, unetForward, type Generator } from '@unseg/core/generator';
import type { TrainingSet } from './data.js';
import { softmaxCrossEntropy } from './losses.js';
import { Rng } from './rng.js';

/**
 * A quick sanity check of protection, not the efficacy benchmark (tools/bench-efficacy is):
 * images at `set.size` (the "published" resolution) get noise with the per-region budget
 * (prompt = union of the objects), quantised to 8 bits; a small U-Net is then trained from
 * scratch for semantic segmentation at a 4x lower resolution (area-averaged, as trainers
 * resize) and scored on clean held-out images.
 */
export type SanityNoise = 'clean' | 'sign' | 'unseg';

export interface SanityOptions {
  readonly set: TrainingSet;
  readonly noise: SanityNoise;
  readonly generator?: Generator;
  readonly trainCount: number;
  readonly epochs: number;
  readonly seed: number;
  readonly epsFg?: number;
  readonly epsBg?: number;
  /** Downscale factor between the published images and the trainer's input. */
  readonly downscale?: number;
  readonly batchSize?: number;
  readonly lr?: number;
}

export interface SanityResult {
  readonly noise: SanityNoise;
  readonly mIoU: number;
  readonly pixelAccuracy: number;
  readonly finalTrainLoss: number;
  readonly seconds: number;
}

function toBytes(img: Float32Array): Uint8Array {
  return Uint8Array.from(img, (v) => Math.round(v * 255));
}

/** The noised ("published") copy of image i, as 0..1 floats at set.size. */
function protect(set: TrainingSet, i: number, noise: Float32Array | null, epsFg: number, epsBg: number): Float32Array {
  const n = set.size;
  if (!noise) return set.images[i]!;
  const prompt = Uint8Array.from(set.labels![i]!, (v) => (v > 0 ? 1 : 0));
  const out = applyBudgetedNoise({ width: n, height: n, data: toBytes(set.images[i]!) }, noise, { width: n, height: n, data: prompt }, { epsFg, epsBg });
  return Float32Array.from(out.data, (v) => v / 255);
}

function signNoise(size: number, workingSize: number, rng: Rng): Float32Array {
  return tf.tidy(() => {
    const s = new Float32Array(workingSize * workingSize * 3).map(() => (rng.next() < 0.5 ? -1 : 1));
    const t = tf.tensor4d(s, [1, workingSize, workingSize, 3]);
    return tf.image.resizeBilinear(t, [size, size]).dataSync() as Float32Array;
  });
}

export async function sanityEfficacy(o: SanityOptions): Promise<SanityResult> {
  const t0 = Date.now();
  const { set } = o;
  if (!set.labels) throw new Error('sanityEfficacy needs a set loaded withLabels');
  const epsFg = o.epsFg ?? 8 / 255, epsBg = o.epsBg ?? 2 / 255;
  const down = o.downscale ?? 4;
  const n = set.size, m = n / down;
  const rng = new Rng(o.seed);
  const classes = 1 + Math.max(...set.labels.map((l) => l.reduce((a, b) => Math.max(a, b), 0)));
  const trainIdx = [...Array(o.trainCount).keys()];
  const testIdx = [...Array(set.images.length - o.trainCount).keys()].map((k) => k + o.trainCount);

  // Noise for the training images only; the test images stay clean.
  let noises: (Float32Array | null)[] = trainIdx.map(() => null);
  if (o.noise === 'unseg') {
    if (!o.generator) throw new Error('noise "unseg" needs a generator');
    const reqs: NoiseRequest[] = trainIdx.map((i) => ({
      id: String(i),
      image: { width: n, height: n, data: toBytes(set.images[i]!) },
      prompt: { width: n, height: n, data: Uint8Array.from(set.labels![i]!, (v) => (v > 0 ? 1 : 0)) },
    }));
    noises = [];
    for (let k = 0; k < reqs.length; k += 8) noises.push(...generateNoise(o.generator, reqs.slice(k, k + 8)));
  } else if (o.noise === 'sign') {
    noises = trainIdx.map(() => signNoise(n, o.generator?.config.workingSize ?? 128, rng));
  }
  const small = (imgs: Float32Array[]) =>
    tf.tidy(() => tf.avgPool(tf.tensor4d(Float32Array.from(imgs.flatMap((a) => Array.from(a))), [imgs.length, n, n, 3]), down, down, 'valid'));
  const labelsSmall = (idx: number[]) => {
    const out = new Int32Array(idx.length * m * m);
    idx.forEach((i, b) => {
      const l = set.labels![i]!;
      for (let y = 0; y < m; y++) for (let x = 0; x < m; x++) out[b * m * m + y * m + x] = l[(y * down + (down >> 1)) * n + x * down + (down >> 1)]!;
    });
    return tf.tensor1d(out, 'int32');
  };
  const xTrain = small(trainIdx.map((i, k) => protect(set, i, noises[k]!, epsFg, epsBg)));
  const yTrain = labelsSmall(trainIdx);
  const xTest = small(testIdx.map((i) => set.images[i]!));
  const yTest = labelsSmall(testIdx);

  const spec = { inChannels: 3, outChannels: classes, widths: [16, 32, 64] };
  const params = initUNet(spec, 'D', o.seed + 17);
  const opt = tf.train.adam(o.lr ?? 2e-3);
  const bs = o.batchSize ?? 16;
  let last = 0;
  for (let e = 0; e < o.epochs; e++) {
    const order = rng.shuffle([...trainIdx.keys()]);
    for (let k = 0; k + bs <= order.length; k += bs) {
      const ids = order.slice(k, k + bs);
      const flip = rng.next() < 0.5;
      const cost = tf.tidy(() => {
        const idxT = tf.tensor1d(ids, 'int32');
        let x = tf.gather(xTrain, idxT) as tf.Tensor4D;
        let y = tf.oneHot(tf.gather(yTrain.reshape([trainIdx.length, m, m]), idxT), classes).toFloat() as tf.Tensor4D;
        if (flip) {
          x = tf.reverse(x, 2);
          y = tf.reverse(y, 2);
        }
        return opt.minimize(() => {
          return softmaxCrossEntropy(unetForward(spec, params, 'D', x.mul(2).sub(1) as tf.Tensor4D), y);
        }, true, [...params.values()])!;
      });
      last = cost.dataSync()[0]!;
      cost.dispose();
    }
  }
  const pred = tf.tidy(() => unetForward(spec, params, 'D', xTest.mul(2).sub(1) as tf.Tensor4D).argMax(3).flatten());
  const p = pred.dataSync(), g = yTest.dataSync();
  const inter = new Float64Array(classes), uni = new Float64Array(classes);
  let correct = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === g[i]) {
      correct++;
      inter[p[i]!]!++;
      uni[p[i]!]!++;
    } else {
      uni[p[i]!]!++;
      uni[g[i]!]!++;
    }
  }
  const ious: number[] = [];
  for (let c = 0; c < classes; c++) if (uni[c]! > 0) ious.push(inter[c]! / uni[c]!);
  tf.dispose([pred, xTrain, yTrain, xTest, yTest, ...params.values()]);
  opt.dispose();
  return {
    noise: o.noise,
    mIoU: ious.reduce((a, b) => a + b, 0) / ious.length,
    pixelAccuracy: correct / p.length,
    finalTrainLoss: last,
    seconds: (Date.now() - t0) / 1000,
  };
}
