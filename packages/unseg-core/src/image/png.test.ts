import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeRgb } from './codec.js';
import { encodePng } from './png.js';
import type { RgbImage } from './types.js';

function randomImage(width: number, height: number, seed: number): RgbImage {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
  return { width, height, data: Uint8Array.from({ length: width * height * 3 }, next) };
}

/** The chunks of a PNG file, with each CRC checked against zlib's. */
function chunks(png: Uint8Array): { type: string; data: Buffer }[] {
  const b = Buffer.from(png);
  expect([...b.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const out: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < b.length; ) {
    const length = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    const data = b.subarray(at + 8, at + 8 + length);
    expect(b.readUInt32BE(at + 8 + length)).toBe(crc(b.subarray(at + 4, at + 8 + length)));
    out.push({ type, data });
    at += 12 + length;
  }
  return out;
}

// A bitwise CRC-32 (PNG's, the same as zlib's), independent of the encoder's table-driven one.
function crc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('encodePng', () => {
  it.each([[1, 1], [5, 3], [17, 9], [300, 200]])('round-trips %ix%i pixels exactly through sharp, with valid chunks', async (width, height) => {
    const image = randomImage(width, height, width + height);
    const png = await encodePng(image);
    expect(chunks(png).map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const meta = await sharp(png, { failOn: 'warning' }).metadata();
    expect(meta).toMatchObject({ format: 'png', width, height, channels: 3, depth: 'uchar' });
    const { image: back } = await decodeRgb(png);
    expect(Buffer.from(back.data).equals(Buffer.from(image.data))).toBe(true);
  });

  it('writes Up-filtered scanlines: the IDAT inflates to a filter byte 2 and row differences', async () => {
    const image = { width: 2, height: 2, data: Uint8Array.from([10, 20, 30, 40, 50, 60, 11, 19, 33, 40, 255, 0]) };
    const idat = chunks(await encodePng(image)).find((c) => c.type === 'IDAT')!;
    expect([...inflateSync(idat.data)]).toEqual([2, 10, 20, 30, 40, 50, 60, 2, 1, 255, 3, 0, 205, 196]);
  });

  it('uses string matching only when a level is given: smaller for repetitive images, identical pixels', async () => {
    // Every row the same, each row a random 5-byte motif repeated: Huffman coding alone still
    // spends about a bit per byte, string matching almost nothing.
    const motif = randomImage(5, 1, 3).data.subarray(0, 5);
    const image = { width: 256, height: 64, data: Uint8Array.from({ length: 256 * 64 * 3 }, (_, i) => motif[(i % (256 * 3)) % 5]!) };
    const fast = await encodePng(image);
    const matched = await encodePng(image, { level: 6 });
    expect(matched.length).toBeLessThan(fast.length);
    const { image: back } = await decodeRgb(matched);
    expect(Buffer.from(back.data).equals(Buffer.from(image.data))).toBe(true);
  });

  it('refuses a pixel buffer that does not match the size, and levels outside 0-9', async () => {
    await expect(encodePng({ width: 4, height: 4, data: new Uint8Array(47) })).rejects.toThrow(/4x4 RGB needs 48 bytes, got 47/);
    await expect(encodePng({ width: 0, height: 4, data: new Uint8Array(0) })).rejects.toThrow(RangeError);
    await expect(encodePng(randomImage(2, 2, 1), { level: 10 })).rejects.toThrow(/expected an integer 0-9/);
  });

  it('encodes images in parallel without mixing their scanline buffers', async () => {
    const images = Array.from({ length: 8 }, (_, i) => randomImage(64 + (i % 2), 48, 100 + i));
    const pngs = await Promise.all(images.map((im) => encodePng(im)));
    for (const [i, png] of pngs.entries()) {
      const { image: back } = await decodeRgb(png);
      expect(Buffer.from(back.data).equals(Buffer.from(images[i]!.data))).toBe(true);
    }
  });
});
