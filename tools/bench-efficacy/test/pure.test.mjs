// Fast tests of the benchmark's pure pieces: node --test tools/bench-efficacy/test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paintLabels, resizeLabelsNearest, rleArea, IGNORE } from '../lib/labels.mjs';
import { confusion, accumulate, scores, meanStd } from '../lib/metrics.mjs';
import { rng, scaleCropFlip, photometric } from '../lib/augment.mjs';
import { parseRow, planRuns } from '../lib/plan.mjs';
import { summarise } from '../lib/report.mjs';

/** Column-major COCO counts for a row-major 0/1 mask. */
function countsOf(mask, w, h) {
  const counts = [];
  let cur = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x];
      if (v !== cur) {
        counts.push(run);
        run = 0;
        cur = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

function rect(w, h, x0, y0, x1, y1) {
  const m = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return { width: w, height: h, counts: countsOf(m, w, h) };
}

test('labels: smaller objects are painted over larger ones whatever the order', () => {
  const w = 6;
  const h = 4;
  const small = { category_id: 10, rle: rect(w, h, 1, 1, 3, 3) }; // 4 px
  const big = { category_id: 3, rle: rect(w, h, 0, 0, 5, 4) }; // 20 px
  const skipped = { category_id: 0, rle: rect(w, h, 0, 0, 6, 4) };
  const classOf = (id) => ({ 3: 1, 10: 2 })[id];
  for (const order of [[small, big, skipped], [big, small, skipped], [skipped, small, big]]) {
    const l = paintLabels(order, w, h, classOf);
    assert.deepEqual(Array.from(l), [
      1, 1, 1, 1, 1, 0,
      1, 2, 2, 1, 1, 0,
      1, 2, 2, 1, 1, 0,
      1, 1, 1, 1, 1, 0,
    ]);
  }
  assert.equal(rleArea(small.rle.counts), 4);
  assert.throws(() => paintLabels([{ category_id: 3, rle: rect(3, 3, 0, 0, 1, 1) }], w, h, classOf), /RangeError|3x3/);
});

test('labels: nearest resize keeps labels unmixed', () => {
  const l = new Uint8Array([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assert.deepEqual(Array.from(resizeLabelsNearest(l, 4, 4, 2, 2)), [1, 2, 3, 4]);
  assert.equal(resizeLabelsNearest(l, 4, 4, 8, 8).filter((v) => v === 4).length, 16);
});

test('metrics: IoU, mIoU and pixel accuracy on a hand-checked confusion matrix', () => {
  // gt:   0 0 0 1 1 2 ignore ; pred: 0 0 1 1 2 2 0
  const k = 4; // class 3 never occurs: left out of the mean
  const cm = confusion(k);
  accumulate(cm, k, new Uint8Array([0, 0, 0, 1, 1, 2, IGNORE]), new Int32Array([0, 0, 1, 1, 2, 2, 0]));
  const s = scores(cm, k);
  // class 0: tp 2, fn 1, fp 0 -> 2/3; class 1: tp 1, fn 1, fp 1 -> 1/3; class 2: tp 1, fp 1 -> 1/2
  assert.ok(Math.abs(s.iou[0] - 2 / 3) < 1e-12);
  assert.ok(Math.abs(s.iou[1] - 1 / 3) < 1e-12);
  assert.ok(Math.abs(s.iou[2] - 1 / 2) < 1e-12);
  assert.equal(s.iou[3], null);
  assert.ok(Math.abs(s.miou - (2 / 3 + 1 / 3 + 1 / 2) / 3) < 1e-12);
  assert.ok(Math.abs(s.pixelAcc - 4 / 6) < 1e-12);
  // A class predicted but absent from the ground truth counts, with IoU 0.
  accumulate(cm, k, new Uint8Array([0]), new Int32Array([3]));
  assert.equal(scores(cm, k).iou[3], 0);
});

test('metrics: mean and sample standard deviation', () => {
  const m = meanStd([0.2, 0.4]);
  assert.ok(Math.abs(m.mean - 0.3) < 1e-12);
  assert.ok(Math.abs(m.std - Math.sqrt(0.02)) < 1e-12);
  assert.equal(meanStd([0.5]).std, 0);
});

test('augment: crops are the right size, labels stay labels, padding is ignored, seeds replay', () => {
  const w = 8;
  const img = new Uint8Array(w * w * 3).map((_, i) => i % 251);
  const lab = new Uint8Array(w * w).map((_, i) => (i % w < 4 ? 1 : 2));
  const a = scaleCropFlip(img, lab, w, w, 6, rng(5));
  const b = scaleCropFlip(img, lab, w, w, 6, rng(5));
  assert.deepEqual(a, b);
  assert.equal(a.image.length, 6 * 6 * 3);
  for (const v of a.labels) assert.ok(v === 1 || v === 2 || v === IGNORE);
  // Scale fixed at 0.5: the 4x4 scaled image sits in the corner, the rest is padding.
  const small = scaleCropFlip(img, lab, w, w, 6, rng(1), [0.5, 0.5]);
  assert.equal(small.labels.filter((v) => v === IGNORE).length, 36 - 16);
  // Scale 1 without a flip reproduces the source exactly at integer positions.
  let found = false;
  for (let s = 0; s < 50 && !found; s++) {
    const c = scaleCropFlip(img, lab, w, w, w, rng(s), [1, 1]);
    if (!c.flip) {
      assert.deepEqual(Array.from(c.image), Array.from(img));
      assert.deepEqual(Array.from(c.labels), Array.from(lab));
      found = true;
    }
  }
  assert.ok(found);
});

test('augment: photometric distortion stays in range and keeps grey pixels grey', () => {
  const img = new Float32Array(300).map((_, i) => (i * 7) % 256);
  for (let s = 0; s < 20; s++) {
    const x = Float32Array.from(img);
    photometric(x, rng(s));
    for (const v of x) assert.ok(v >= 0 && v <= 255);
    // Grey has no saturation and no hue: every step must keep r = g = b.
    const g = new Float32Array(30).map((_, i) => Math.floor(i / 3) * 25);
    photometric(g, rng(s));
    for (let p = 0; p < 10; p++) {
      assert.ok(Math.abs(g[p * 3] - g[p * 3 + 1]) < 1e-3 && Math.abs(g[p * 3] - g[p * 3 + 2]) < 1e-3);
    }
  }
  let changed = 0;
  for (let s = 0; s < 20; s++) {
    const x = Float32Array.from(img);
    const p = photometric(x, rng(s));
    if (p.brightness || p.contrast !== 1 || p.saturation !== 1 || p.hue) changed++;
  }
  assert.ok(changed > 10);
});

test('plan: row specs and run order', () => {
  assert.deepEqual(parseRow('unseg+jpeg75'), { label: 'unseg+jpeg75', source: 'unseg', generator: undefined, codes: undefined, pattern: undefined, cellSize: undefined, defense: 'jpeg75', dirName: 'unseg', key: 'unseg+jpeg75' });
  assert.deepEqual(parseRow('classwise~4096+gray'), { label: 'classwise~4096+gray', source: 'classwise', generator: undefined, codes: undefined, pattern: undefined, cellSize: 4096, defense: 'gray', dirName: 'classwise-cell4096', key: 'classwise~4096+gray' });
  assert.throws(() => parseRow('classwise~big'), /not a positive integer/);
  const grating = parseRow('classwise:grating~32');
  assert.deepEqual([grating.source, grating.pattern, grating.cellSize, grating.dirName], ['classwise', 'grating', 32, 'classwise-grating-cell32']);
  assert.throws(() => parseRow('classwise:Grating!'), /not a word/);
  assert.equal(parseRow('unseg@models/no-lm').generator, 'models/no-lm');
  const codes = parseRow('classwise:codes@out/codes/a.json+gray');
  assert.equal(codes.codes, 'out/codes/a.json');
  assert.equal(codes.generator, undefined);
  assert.equal(codes.defense, 'gray');
  assert.equal(codes.dirName, 'classwise-out_codes_a.json-codes');
  assert.throws(() => parseRow('classwise:codes'), /needs its file/);
  assert.throws(() => parseRow('unseg+sharpen'), /unknown defense/);
  const runs = planRuns(['none', 'sign', 'unseg'].map(parseRow), ['unet', 'deeplab'], [1, 2], ['none', 'unseg']);
  assert.deepEqual(runs.map((r) => `${r.row.label}/${r.arch}/${r.seed}`), [
    'none/unet/1', 'none/deeplab/1', 'sign/unet/1', 'sign/deeplab/1', 'unseg/unet/1', 'unseg/deeplab/1',
    'none/unet/2', 'none/deeplab/2', 'unseg/unet/2', 'unseg/deeplab/2',
  ]);
});

test('report: a defended row is compared with clean + the same defense as well as with clean', () => {
  const run = (row, miou, seed = 1) => ({ row, arch: 'deeplab', seed, miou, pixelAcc: 0.5, wallSeconds: 1, trainRes: '96' });
  const rows = summarise([run('none', 0.3), run('none', 0.2, 2), run('none+gray', 0.2), run('unseg+gray', 0.1), run('unseg+blur1', 0.2), run('unseg', 0.125)]);
  const by = Object.fromEntries(rows.map((r) => [r.row, r]));
  assert.equal(by['unseg+gray'].ratioToClean, 0.1 / 0.25);
  assert.equal(by['unseg+gray'].ratioToSameDefense, 0.1 / 0.2);
  assert.equal(by.unseg.ratioToSameDefense, 0.125 / 0.25);
  assert.equal(by['unseg+blur1'].ratioToSameDefense, null); // no none+blur1 run to compare with
  assert.equal(by['none+gray'].ratioToSameDefense, 1);
});
