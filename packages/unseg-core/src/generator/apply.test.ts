import * as tf from '@tensorflow/tfjs';
import { applyBudgetedNoise } from '../noise/apply.js';
import { selectBackend } from './backend.js';
import { applyNoiseTensor } from './apply.js';

describe('applyNoiseTensor', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });
  const w = 9, h = 7;
  const n = w * h;
  const data = new Uint8Array(n * 3).map((_, i) => (i * 37) % 256);
  // Pixels at 0 and 255 included, so clamping is exercised.
  data[0] = 0;
  data[1] = 255;
  const prompt = new Uint8Array(n).map((_, i) => (i % 3 === 0 ? 1 : 0));
  const noise = new Float32Array(n * 3).map((_, i) => Math.sin(i * 1.7) * 1.3);
  const epsFg = 8 / 255, epsBg = 2 / 255;

  function tensorResult(): Float32Array {
    return tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(data, (v) => v / 255), [1, h, w, 3]);
      const nz = tf.tensor4d(noise, [1, h, w, 3]);
      const p = tf.tensor4d(Float32Array.from(prompt), [1, h, w, 1]);
      return applyNoiseTensor(x, nz, p, epsFg, epsBg).dataSync() as Float32Array;
    });
  }

  it('agrees with applyBudgetedNoise to within one 8-bit step', () => {
    const ref = applyBudgetedNoise({ width: w, height: h, data }, noise, { width: w, height: h, data: prompt }, { epsFg, epsBg });
    const t = tensorResult();
    let worst = 0;
    for (let i = 0; i < t.length; i++) worst = Math.max(worst, Math.abs(t[i]! * 255 - ref.data[i]!));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('never exceeds the region budget and stays in [0, 1]', () => {
    const t = tensorResult();
    for (let p = 0; p < n; p++) {
      const eps = prompt[p] ? epsFg : epsBg;
      for (let c = 0; c < 3; c++) {
        const v = t[p * 3 + c]!;
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        expect(Math.abs(v - data[p * 3 + c]! / 255)).toBeLessThanOrEqual(eps + 1e-6);
      }
    }
    // Noise beyond [-1, 1] is clipped, so the full budget is reached but not passed.
    const inside = [...Array(n).keys()].find((p) => prompt[p] && data[p * 3]! > 20 && data[p * 3]! < 230 && Math.abs(noise[p * 3]!) > 1)!;
    expect(Math.abs(t[inside * 3]! - data[inside * 3]! / 255)).toBeCloseTo(epsFg, 5);
  });
});
