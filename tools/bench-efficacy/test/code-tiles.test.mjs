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

test('random-codes.mjs: balanced +-1 achromatic tiles, the same for a seed, another for another seed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'random-codes-'));
  const make = (name, seed) => {
    const file = path.join(dir, name);
    const r = spawnSync(process.execPath, [path.join(import.meta.dirname, '..', 'random-codes.mjs'), '--out', file, '--categories', '3', '--tile', '4', '--seed', String(seed), '--binary', '--achromatic'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  };
  const a = make('a.json', 1);
  assert.equal(a.format, 'unseg-class-codes');
  assert.equal(a.codes.length, 3);
  for (const [r, g, b] of [...a.codes, a.background]) {
    assert.deepEqual(g, r);
    assert.deepEqual(b, r);
    const flat = r.flat();
    assert.equal(flat.length, 16);
    assert.ok(flat.every((v) => v === 1 || v === -1));
    assert.equal(flat.reduce((s, v) => s + v, 0), 0);
  }
  assert.deepEqual(make('b.json', 1).codes, a.codes);
  assert.notDeepEqual(make('c.json', 2).codes, a.codes);
});
