import * as tf from '@tensorflow/tfjs';
import { loadTensors, saveTensors, type ParamMap } from '@unseg/core/generator';

// A trainer checkpoint's tensors, beside its own state file: network weights and Adam moments.

/** Adam's running products beta1^t and beta2^t (private fields of tfjs's AdamOptimizer). */
interface AdamPowers {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

/**
 * Adam multiplies beta^t up step by step, but setWeights recomputes it as pow(beta, t + 1),
 * which differs in the last float32 bits: a resumed run would then drift from an uninterrupted
 * one. A checkpoint keeps the products themselves (float32 values are exact in JSON).
 */
export type BetaPowers = [number, number];

function betaPowers(opt: tf.AdamOptimizer): BetaPowers {
  const p = opt as unknown as AdamPowers;
  return [p.accBeta1.dataSync()[0]!, p.accBeta2.dataSync()[0]!];
}

function setBetaPowers(opt: tf.AdamOptimizer, [b1, b2]: BetaPowers): void {
  const p = opt as unknown as AdamPowers;
  tf.tidy(() => {
    p.accBeta1.assign(tf.scalar(b1));
    p.accBeta2.assign(tf.scalar(b2));
  });
}

/** Sets each variable of `params` to the tensor saved under its name as `${stem}` in `dir`. */
export async function loadParams(dir: string, stem: string, params: ParamMap): Promise<void> {
  const tensors = await loadTensors(dir, stem);
  try {
    for (const [name, v] of params) {
      const t = tensors.get(name);
      if (!t) throw new Error(`checkpoint ${dir} lacks ${name}`);
      v.assign(t);
    }
  } finally {
    tf.dispose([...tensors.values()]);
  }
}

/** Writes the optimizer's moments as `${stem}.json` + `.weights.bin` in `dir`; returns the beta powers for the caller's state file. */
export async function saveAdam(dir: string, stem: string, opt: tf.AdamOptimizer): Promise<BetaPowers> {
  const weights = await opt.getWeights();
  try {
    await saveTensors(dir, stem, weights);
  } finally {
    // getWeights makes a fresh scalar for the iteration count; the moments are the optimizer's own.
    tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  }
  return betaPowers(opt);
}

/**
 * Restores what saveAdam wrote. Adam keeps its moments by position (the order of the variable
 * list it minimises), so the caller must minimise the same list in the same order.
 */
export async function loadAdam(dir: string, stem: string, opt: tf.AdamOptimizer, powers: BetaPowers | undefined): Promise<void> {
  const tensors = await loadTensors(dir, stem);
  await opt.setWeights([...tensors].map(([name, tensor]) => ({ name, tensor })));
  if (powers) setBetaPowers(opt, powers);
}
