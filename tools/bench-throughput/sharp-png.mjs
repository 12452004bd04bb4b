// The reference the throughput benches compare the pipeline's PNG encoder with: sharp's own PNG
// encoder at a zlib level, unfiltered scanlines (sharp's default, and the pipeline's encoder
// until 2026-11-26). One definition, so that run.mjs's codec limit and png-cost.mjs's
// `sharp:L` rows measure the same thing.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { fail, parseToolArgs } from '../lib/args.mjs';

/** PNG bytes of an RGB image (core's RgbImage) by sharp alone, at zlib `level` (0-9). */
export function sharpPng(image, level) {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png({ compressionLevel: level, adaptiveFiltering: false })
    .toBuffer();
}

// A module, not a command: run directly, it says so instead of exiting silently.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const usage = `
A module, not a command: sharpPng(image, level) encodes an RGB image as PNG with sharp alone (the
codec limit of the throughput benches). The commands that use it:

usage: node tools/bench-throughput/run.mjs --help
       node tools/bench-throughput/png-cost.mjs --help`;
  parseToolArgs({ name: 'sharp-png', usage });
  fail('sharp-png', 'a module, not a command: run node tools/bench-throughput/run.mjs or png-cost.mjs (see --help)');
}
