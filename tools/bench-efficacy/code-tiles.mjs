#!/usr/bin/env node
// Draws a class-codes file (`unseg-pipeline train-codes` output, or any file `run --codes` reads)
// as one PNG strip: the background's tile first, then each category's, every cell a block of
// --px pixels, a direction v in [-1, 1] drawn as 128 + 127 v per channel (mid-grey = 0), so that
// colour, amplitude and structure of each code can be seen side by side.
//
//   node tools/bench-efficacy/code-tiles.mjs CODES.json OUT.png [--px 8]
import { loadClassCodes } from '@unseg/core';
import { coreRequire } from './lib/tf.mjs';
import { fail, parseToolArgs } from '../lib/args.mjs';

const USAGE = 'usage: node tools/bench-efficacy/code-tiles.mjs CODES.json OUT.png [--px 8]';
const { values: opt, positionals } = parseToolArgs({ name: 'code-tiles', usage: USAGE, options: { px: { type: 'string', default: '8' } }, numbers: { px: { integer: true, min: 1, max: 64 } }, allowPositionals: true });
if (positionals.length !== 2) fail('code-tiles', 'expected CODES.json and OUT.png');
const [input, output] = positionals;
// The pipeline's own reader: the same checks and messages as `run --codes` gives.
let codes;
try {
  codes = await loadClassCodes(input);
} catch (err) {
  fail('code-tiles', err.message);
}
const { rows, cols } = codes;
// Channel-major [c][row][col], as loadClassCodes flattens them; a file without a background code draws none.
const tiles = [...(codes.background ? [codes.background] : []), ...codes.codes];
const px = opt.px, gap = px;
const width = tiles.length * cols * px + (tiles.length - 1) * gap, height = rows * px;
const rgb = Buffer.alloc(width * height * 3, 255);
tiles.forEach((tile, t) => {
  for (let y = 0; y < rows * px; y++) {
    for (let x = 0; x < cols * px; x++) {
      const at = (y * width + t * (cols * px + gap) + x) * 3;
      const cell = Math.floor(y / px) * cols + Math.floor(x / px);
      for (let c = 0; c < 3; c++) rgb[at + c] = Math.round(128 + 127 * tile[c * rows * cols + cell]);
    }
  }
});
const sharp = (await import(coreRequire.resolve('sharp'))).default;
await sharp(rgb, { raw: { width, height, channels: 3 } }).png().toFile(output);
console.log(`${output}: ${tiles.length} tiles (${codes.background ? 'background, then ' : ''}categories 1-${codes.codes.length}), ${width}x${height}`);
