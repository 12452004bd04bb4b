// node --test tools/bench-efficacy/test: code-tiles.mjs draws each code's cells where they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { coreRequire } from '../lib/tf.mjs';

const script = path.join(import.meta.dirname, '..', 'code-tiles.mjs');

test('draws the background then each category, +1 white, -1 black, per channel', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'code-tiles-'));
  const grid = (a, b) => [[[a, b]], [[a, b]], [[b, a]]]; // 3 channels x 1 row x 2 cols
  const doc = { format: 'unseg-class-codes', version: 1, cellSize: 16, codes: [grid(1, -1)], background: grid(0, 0), provenance: {} };
  fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify(doc));
  const out = path.join(dir, 'c.png');
  const r = spawnSync(process.execPath, [script, path.join(dir, 'c.json'), out, '--px', '2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const sharp = (await import(coreRequire.resolve('sharp'))).default;
  const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [2 * 2 * 2 + 2, 2]); // two tiles of 2 cells of 2 px, a 2-px gap
  const pixel = (x) => [...data.subarray(x * info.channels, x * info.channels + 3)];
  assert.deepEqual(pixel(0), [128, 128, 128]); // background, 0
  assert.deepEqual(pixel(6), [255, 255, 1]); // category 1, first cell: R, G +1, B -1
  assert.deepEqual(pixel(8), [1, 1, 255]);
  const bad = spawnSync(process.execPath, [script, path.join(dir, 'c.png'), out], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /c\.png/);
});
