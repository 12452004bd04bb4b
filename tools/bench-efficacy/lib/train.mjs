// From-scratch training and clean evaluation of one segmentation net.
import { tf } from './tf.mjs';
import { ARCHS } from './models.mjs';
import { rng, scaleCropFlip, photometric } from './augment.mjs';
import { IGNORE } from './labels.mjs';
import { confusion, accumulate, scores } from './metrics.mjs';

// ImageNet statistics, as every mmsegmentation config normalises with.
export const MEAN = [123.675, 116.28, 103.53];
export const STD = [58.395, 57.12, 57.375];

export function normalise(src, dst, offset) {
  for (let i = 0; i < src.length; i++) dst[offset + i] = (src[i] - MEAN[i % 3]) / STD[i % 3];
}

/** One augmented training batch (scale, crop, flip, and photometric jitter when `jitter`). */
export function makeBatch(samples, idxs, crop, r, jitter) {
  const x = new Float32Array(idxs.length * crop * crop * 3);
  const y = new Int32Array(idxs.length * crop * crop);
  const w = new Float32Array(idxs.length * crop * crop);
  idxs.forEach((k, b) => {
    const s = samples[k];
    const a = scaleCropFlip(s.image, s.labels, s.width, s.height, crop, r);
    if (jitter) photometric(a.image, r);
    normalise(a.image, x, b * crop * crop * 3);
    for (let i = 0; i < a.labels.length; i++) {
      const l = a.labels[i];
      y[b * crop * crop + i] = l === IGNORE ? 0 : l;
      w[b * crop * crop + i] = l === IGNORE ? 0 : 1;
    }
  });
  return { x, y, w };
}

/** One optimiser step on a batch from makeBatch; updates batch-norm running stats; returns the loss. */
export async function trainStep(model, opt, { x, y, w }, { batch, size, classes }) {
  const loss = tf.tidy(() => {
    const xt = tf.tensor4d(x, [batch, size, size, 3]);
    const yt = tf.oneHot(tf.tensor3d(y, [batch, size, size], 'int32'), classes);
    const wt = tf.tensor3d(w, [batch, size, size]);
    return opt.minimize(() => tf.losses.softmaxCrossEntropy(yt, model.forward(xt, true), wt), true, model.params.vars);
  });
  const value = (await loss.data())[0];
  loss.dispose();
  for (const [st, m, v] of model.params.pending) {
    st.mean.assign(m);
    st.variance.assign(v);
    m.dispose();
    v.dispose();
  }
  model.params.pending = [];
  return value;
}

/**
 * Trains `arch` from scratch: Adam with mmsegmentation's poly schedule (power 0.9), batch
 * `batch`, `epochs` passes over the train samples with fresh augmentation every time.
 */
export async function trainModel({ arch, samples, classes, seed, epochs, batch, crop, lr, width, photometric: jitter = true, log = () => {} }) {
  const model = ARCHS[arch]({ classes, width, seed: seed * 1000 + 7 });
  model.params.pending = [];
  const opt = tf.train.adam(lr);
  const r = rng(seed * 7919 + 13);
  const stepsPerEpoch = Math.ceil(samples.length / batch);
  const total = stepsPerEpoch * epochs;
  let step = 0;
  let lastLoss = NaN;
  let lastEpochLoss = NaN;
  const t0 = Date.now();
  for (let e = 0; e < epochs; e++) {
    const order = samples.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let epochLoss = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idxs = order.slice(s * batch, (s + 1) * batch);
      if (idxs.length < batch) idxs.push(...order.slice(0, batch - idxs.length)); // keep BN batches full
      opt.learningRate = lr * Math.pow(1 - step / total, 0.9);
      lastLoss = await trainStep(model, opt, makeBatch(samples, idxs, crop, r, jitter), { batch, size: crop, classes });
      epochLoss += lastLoss;
      step++;
    }
    lastEpochLoss = epochLoss / stepsPerEpoch;
    log(`  epoch ${e + 1}/${epochs} loss ${lastEpochLoss.toFixed(3)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  opt.dispose();
  return { model, steps: step, finalLoss: lastLoss, lastEpochLoss };
}

/** Whole images at the base resolution, argmax, confusion against the clean labels. */
export async function evaluate(model, samples, classes, batch = 8) {
  const cm = confusion(classes);
  for (let i = 0; i < samples.length; i += batch) {
    const group = samples.slice(i, i + batch);
    // Same-size groups only (all coco-facades images are square); otherwise one at a time.
    const sameSize = group.every((s) => s.width === group[0].width && s.height === group[0].height);
    const parts = sameSize ? [group] : group.map((s) => [s]);
    for (const part of parts) {
      const { width: w, height: h } = part[0];
      const x = new Float32Array(part.length * w * h * 3);
      part.forEach((s, b) => normalise(s.image, x, b * w * h * 3));
      const pred = tf.tidy(() => tf.argMax(model.forward(tf.tensor4d(x, [part.length, h, w, 3]), false), 3));
      const p = await pred.data();
      pred.dispose();
      part.forEach((s, b) => accumulate(cm, classes, s.labels, p.subarray(b * w * h, (b + 1) * w * h)));
    }
  }
  return { ...scores(cm, classes), confusion: Array.from(cm) };
}
