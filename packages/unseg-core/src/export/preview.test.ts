import sharp from 'sharp';
import { rleEncode } from '../masks/index.js';
import { createUniformNoiseSource } from '../noise/baseline.js';
import type { Sample } from '../plugin/types.js';
import { renderPreview } from './preview.js';

async function sampleOf(width: number, height: number): Promise<Sample> {
  const bytes = await sharp({ create: { width, height, channels: 3, background: { r: 90, g: 120, b: 150 } } }).png().toBuffer();
  const data = new Uint8Array(width * height).fill(1, 0, (width * height) >> 1);
  const rle = rleEncode({ width, height, data });
  return {
    id: 'tall',
    split: 'train',
    image: { kind: 'bytes', bytes: new Uint8Array(bytes), name: 'tall.png' },
    width,
    height,
    objects: [{ id: 'o', categoryId: 1, category: 'thing', isThing: true, isCrowd: false, mask: async () => rle, annotation: null }],
  };
}

describe('renderPreview', () => {
  it('keeps the panels of a tall, narrow image at most 4096 px high, narrowing them instead', async () => {
    const preview = await renderPreview(await sampleOf(3, 6000), { noise: createUniformNoiseSource({ seed: 1 }), budget: { epsFg: 8 / 255, epsBg: 2 / 255 }, panelWidth: 256 });
    const { width, height } = await sharp(preview.png).metadata();
    expect(height).toBeLessThan(4096 + 200);
    expect(width).toBeLessThan(4 * 256);
  });
});
