// Two from-scratch segmentation nets in plain tfjs ops (no tf.layers: its Conv2D would use the
// built-in gradient that wasm lacks). Both use batch norm, which from-scratch training at this
// size needs to learn within a few epochs, and only ops whose gradients run on wasm: the
// custom-gradient conv, max pooling, bilinear resize, concat.
import { tf } from './tf.mjs';
// The custom-gradient conv (with dilation for the atrous head) is core's, as the generator uses.
import { conv2dSame } from '@unseg/core/generator';

class Params {
  constructor(seed) {
    this.seed = seed;
    this.count = 0;
    this.vars = [];
    this.bnState = new Map(); // running mean/var, not trained by the optimizer
  }
  conv(name, k, cin, cout) {
    // tidy frees the initialiser tensor; the variable keeps its own reference to the data.
    const w = tf.tidy(() =>
      tf.variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cin)), 'float32', this.seed + this.count++), true, `${name}/w`),
    );
    this.vars.push(w);
    return w;
  }
  bn(name, c) {
    const g = tf.tidy(() => tf.variable(tf.ones([c]), true, `${name}/gamma`));
    const b = tf.tidy(() => tf.variable(tf.zeros([c]), true, `${name}/beta`));
    this.vars.push(g, b);
    this.bnState.set(name, tf.tidy(() => ({ mean: tf.variable(tf.zeros([c]), false), variance: tf.variable(tf.ones([c]), false) })));
    return { g, b, name };
  }
  bias(name, c) {
    const b = tf.tidy(() => tf.variable(tf.zeros([c]), true, `${name}/b`));
    this.vars.push(b);
    return b;
  }
  dispose() {
    for (const v of this.vars) v.dispose();
    for (const s of this.bnState.values()) { s.mean.dispose(); s.variance.dispose(); }
  }
}

/** conv -> batch norm -> relu. In training the batch statistics are used and the running ones updated. */
function makeCbr(P, name, k, cin, cout, dilation = 1) {
  const w = P.conv(name, k, cin, cout);
  const bn = P.bn(name, cout);
  return (x, training) => {
    const y = conv2dSame(x, w, { dilation });
    let mean;
    let variance;
    const state = P.bnState.get(name);
    if (training) {
      ({ mean, variance } = tf.moments(y, [0, 1, 2]));
      // Running stats for evaluation; kept outside the gradient tape's concern.
      const m = tf.keep(tf.add(tf.mul(state.mean, 0.9), tf.mul(mean, 0.1)));
      const v = tf.keep(tf.add(tf.mul(state.variance, 0.9), tf.mul(variance, 0.1)));
      P.pending.push([state, m, v]);
    } else {
      mean = state.mean;
      variance = state.variance;
    }
    return tf.relu(tf.batchNorm(y, mean, variance, bn.b, bn.g, 1e-5));
  };
}

function upTo(x, like) {
  return tf.image.resizeBilinear(x, [like.shape[1], like.shape[2]], false, true);
}

/** A 3-level U-Net (c, 2c, 4c, bottleneck 8c), bilinear upsampling + conv instead of transposed convs. */
export function createUNet({ classes, width = 16, seed = 1 }) {
  const P = new Params(seed);
  const c = [width, width * 2, width * 4, width * 8];
  const e1a = makeCbr(P, 'e1a', 3, 3, c[0]);
  const e1b = makeCbr(P, 'e1b', 3, c[0], c[0]);
  const e2a = makeCbr(P, 'e2a', 3, c[0], c[1]);
  const e2b = makeCbr(P, 'e2b', 3, c[1], c[1]);
  const e3a = makeCbr(P, 'e3a', 3, c[1], c[2]);
  const e3b = makeCbr(P, 'e3b', 3, c[2], c[2]);
  const mid = makeCbr(P, 'mid', 3, c[2], c[3]);
  const d3 = makeCbr(P, 'd3', 3, c[3] + c[2], c[2]);
  const d2 = makeCbr(P, 'd2', 3, c[2] + c[1], c[1]);
  const d1 = makeCbr(P, 'd1', 3, c[1] + c[0], c[0]);
  const head = P.conv('head', 1, c[0], classes);
  const headB = P.bias('head', classes);
  const pool = (x) => tf.maxPool(x, 2, 2, 'same');
  const forward = (x, training) => {
    const s1 = e1b(e1a(x, training), training);
    const s2 = e2b(e2a(pool(s1), training), training);
    const s3 = e3b(e3a(pool(s2), training), training);
    const m = mid(pool(s3), training);
    const u3 = d3(tf.concat([upTo(m, s3), s3], 3), training);
    const u2 = d2(tf.concat([upTo(u3, s2), s2], 3), training);
    const u1 = d1(tf.concat([upTo(u2, s1), s1], 3), training);
    return tf.add(conv2dSame(u1, head), headB);
  };
  return { name: 'unet', params: P, forward };
}

/**
 * DeepLabv3+-style: a small conv backbone to output stride 4, dilated convs after it instead of
 * further pooling, an ASPP head (1x1, three atrous 3x3 at rates 2/4/6 scaled to the small feature
 * map, and image pooling), and the v3+ decoder that fuses stride-2 low-level features.
 */
export function createDeepLab({ classes, width = 16, seed = 1 }) {
  const P = new Params(seed);
  const c = [width, width * 2, width * 4];
  const a = width * 2; // ASPP branch width
  const b1 = makeCbr(P, 'b1', 3, 3, c[0]);
  const b2 = makeCbr(P, 'b2', 3, c[0], c[1]);
  const b3 = makeCbr(P, 'b3', 3, c[1], c[2]);
  const b4 = makeCbr(P, 'b4', 3, c[2], c[2], 2);
  const b5 = makeCbr(P, 'b5', 3, c[2], c[2], 4);
  const a0 = makeCbr(P, 'aspp0', 1, c[2], a);
  const a1 = makeCbr(P, 'aspp1', 3, c[2], a, 2);
  const a2 = makeCbr(P, 'aspp2', 3, c[2], a, 4);
  const a3 = makeCbr(P, 'aspp3', 3, c[2], a, 6);
  const ap = P.conv('aspp_pool', 1, c[2], a);
  const apB = P.bias('aspp_pool', a);
  const proj = makeCbr(P, 'aspp_proj', 1, a * 5, a);
  const low = makeCbr(P, 'low', 1, c[1], 16);
  const dec = makeCbr(P, 'dec', 3, a + 16, a);
  const head = P.conv('head', 1, a, classes);
  const headB = P.bias('head', classes);
  const pool = (x) => tf.maxPool(x, 2, 2, 'same');
  const forward = (x, training) => {
    const f1 = b1(x, training); // stride 1
    const f2 = b2(pool(f1), training); // stride 2: low-level features for the decoder
    let f = b3(pool(f2), training); // stride 4
    f = b5(b4(f, training), training);
    const g = tf.relu(tf.add(conv2dSame(tf.mean(f, [1, 2], true), ap), apB));
    const gb = tf.tile(g, [1, f.shape[1], f.shape[2], 1]);
    const aspp = proj(tf.concat([a0(f, training), a1(f, training), a2(f, training), a3(f, training), gb], 3), training);
    const fused = dec(tf.concat([upTo(aspp, f2), low(f2, training)], 3), training);
    return upTo(tf.add(conv2dSame(fused, head), headB), x);
  };
  return { name: 'deeplab', params: P, forward };
}

export const ARCHS = { unet: createUNet, deeplab: createDeepLab };
