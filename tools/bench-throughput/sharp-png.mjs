// The reference the throughput benches compare the pipeline's PNG encoder with: sharp's own PNG
// encoder at a zlib level, unfiltered scanlines (sharp's default, and the pipeline's encoder
// until 2026-11-26). One definition, so that run.mjs's codec limit and png-cost.mjs's
// `sharp:L` rows measure the same thing.
import sharp from 'sharp';

/** PNG bytes of an RGB image (core's RgbImage) by sharp alone, at zlib `level` (0-9). */
export function sharpPng(image, level) {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png({ compressionLevel: level, adaptiveFiltering: false })
    .toBuffer();
}
