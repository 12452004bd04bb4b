// Confusion matrix and the usual segmentation scores (as mmsegmentation computes them).
import { IGNORE } from './labels.mjs';

export function confusion(k) {
  return new Float64Array(k * k); // row = ground truth, column = prediction
}

export function accumulate(cm, k, gt, pred) {
  for (let i = 0; i < gt.length; i++) {
    const g = gt[i];
    if (g === IGNORE || g >= k) continue;
    cm[g * k + pred[i]] += 1;
  }
}

/**
 * Per-class IoU = TP / (TP + FP + FN); a class with no ground truth and no prediction has an
 * undefined IoU (null) and is left out of the mean (nanmean), as in mmsegmentation.
 */
export function scores(cm, k) {
  const iou = [];
  let tpSum = 0;
  let total = 0;
  for (let c = 0; c < k; c++) {
    let row = 0;
    let col = 0;
    for (let j = 0; j < k; j++) {
      row += cm[c * k + j];
      col += cm[j * k + c];
    }
    const tp = cm[c * k + c];
    const union = row + col - tp;
    iou.push(union > 0 ? tp / union : null);
    tpSum += tp;
    total += row;
  }
  const valid = iou.filter((v) => v !== null);
  const miou = valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : 0;
  return { iou, miou, pixelAcc: total > 0 ? tpSum / total : 0 };
}

export function meanStd(values) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), n };
}
