#!/usr/bin/env node
// A class-codes file of random codes with the structure `train-codes` learns (one tile per
// category and one for the background), not learned: the control that says what the min-min adds.
// --binary: every value +1 or -1, half each way per code and channel (as `train-codes --binary`);
// else uniform in [-1, 1]. --achromatic: one value on R, G and B.
//
//   node tools/bench-efficacy/random-codes.mjs --out FILE [--categories 10] [--tile 8] [--cell-size 16] [--seed 1] [--binary] [--achromatic]
import fs from 'node:fs';
import { CLASS_CODES_FORMAT, CLASS_CODES_VERSION } from '@unseg/core';
import { fail, parseToolArgs } from '../lib/args.mjs';
import { rng } from './lib/augment.mjs';

const USAGE = 'usage: node tools/bench-efficacy/random-codes.mjs --out FILE [--categories 10] [--tile 8] [--cell-size 16] [--seed 1] [--binary] [--achromatic]';
const { values: opt } = parseToolArgs({
  name: 'random-codes',
  usage: USAGE,
  options: {
    out: { type: 'string' },
    categories: { type: 'string', default: '10' },
    tile: { type: 'string', default: '8' },
    'cell-size': { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    binary: { type: 'boolean', default: false },
    achromatic: { type: 'boolean', default: false },
  },
  numbers: { categories: { integer: true, min: 1 }, tile: { integer: true, min: 1, max: 64 }, 'cell-size': { integer: true, min: 1 }, seed: { integer: true, min: 0 } },
});
if (!opt.out) fail('random-codes', '--out is required');

const random = rng(opt.seed);
const cells = opt.tile * opt.tile;
const plane = () => {
  let values;
  if (opt.binary) {
    values = Array.from({ length: cells }, (_, k) => (k < Math.floor(cells / 2) ? -1 : 1));
    for (let i = cells - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [values[i], values[j]] = [values[j], values[i]];
    }
  } else values = Array.from({ length: cells }, () => Math.round((random() * 2 - 1) * 1e4) / 1e4);
  return Array.from({ length: opt.tile }, (_, r) => values.slice(r * opt.tile, (r + 1) * opt.tile));
};
const code = () => {
  const first = plane();
  return opt.achromatic ? [first, first, first] : [first, plane(), plane()];
};
const doc = {
  format: CLASS_CODES_FORMAT,
  version: CLASS_CODES_VERSION,
  cellSize: opt['cell-size'],
  codes: Array.from({ length: opt.categories }, code),
  background: code(),
  provenance: { command: ['node', 'tools/bench-efficacy/random-codes.mjs', ...process.argv.slice(2)].join(' '), learned: false },
};
fs.writeFileSync(opt.out, JSON.stringify(doc) + '\n');
console.log(`${opt.out}: ${opt.categories} random codes + background, ${opt.tile}x${opt.tile} cells of ${opt['cell-size']}px${opt.binary ? ', binary' : ''}${opt.achromatic ? ', achromatic' : ''}`);
