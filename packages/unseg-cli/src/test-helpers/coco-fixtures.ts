// Test helper (not exported): COCO datasets generated on the fly, a clean one and a hostile
// one holding every kind of bad input a publisher meets in other people's files. Bytes of the
// broken files are written by hand so that each fault is exactly the one named.
import { deflateSync } from 'node:zlib';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

export const W = 32;
export const H = 24;

/** Deterministic, textured pixels: a flat image would hide channel or orientation mistakes. */
export function rawPixels(width: number, height: number, seed: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 7 + seed * 31) % 256;
      data[i + 1] = (y * 11 + seed * 17) % 256;
      data[i + 2] = (x * y + seed * 5) % 256;
    }
  }
  return data;
}

const fromRaw = (seed: number, width = W, height = H) => sharp(rawPixels(width, height, seed), { raw: { width, height, channels: 3 } });

export const pngBytes = (seed: number, width = W, height = H) => fromRaw(seed, width, height).png().toBuffer();
export const jpegBytes = (seed: number) => fromRaw(seed).jpeg({ quality: 90 }).toBuffer();

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A decompression bomb: a valid PNG signature and IHDR claiming `size` x `size` 8-bit RGB, with
 * a tiny IDAT. A decoder that trusts the header allocates size*size*3 bytes (7.5 GB at 50,000).
 */
export function bombPng(size = 50_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  // First scanline only (filter byte + zeros): the header is what matters.
  const idat = deflateSync(Buffer.alloc(1 + size * 3));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array()),
  ]);
}

interface ImageEntry {
  id: number | string;
  file_name: unknown;
  width?: unknown;
  height?: unknown;
}

export interface CocoJson {
  images: ImageEntry[];
  annotations: Record<string, unknown>[];
  categories: { id: number; name: string; supercategory?: string }[];
}

export const CATEGORIES = [
  { id: 1, name: 'window', supercategory: 'facade' },
  { id: 2, name: 'door', supercategory: 'facade' },
];

/** A box polygon [x0,y0, x1,y0, x1,y1, x0,y1] (COCO segmentation). */
export function boxPolygon(x0: number, y0: number, x1: number, y1: number): number[][] {
  return [[x0, y0, x1, y0, x1, y1, x0, y1]];
}

function annotation(id: number, imageId: number | string, segmentation: unknown, categoryId = 1): Record<string, unknown> {
  return { id, image_id: imageId, category_id: categoryId, segmentation, iscrowd: 0, bbox: [0, 0, 1, 1], area: 1 };
}

/**
 * A clean COCO dataset (official layout, split `train`) of `count` textured PNGs with two box
 * objects each. Returns the root.
 */
export async function writeCleanCoco(root: string, count: number, split = 'train'): Promise<string> {
  await fs.mkdir(path.join(root, 'annotations'), { recursive: true });
  await fs.mkdir(path.join(root, split), { recursive: true });
  const json: CocoJson = { images: [], annotations: [], categories: CATEGORIES };
  let annId = 1;
  for (let i = 0; i < count; i++) {
    const id = i + 1;
    const name = `img${String(id).padStart(4, '0')}.png`;
    await fs.writeFile(path.join(root, split, name), await pngBytes(id));
    json.images.push({ id, file_name: name, width: W, height: H });
    json.annotations.push(annotation(annId++, id, boxPolygon(2 + (i % 5), 2, 14 + (i % 5), 12), 1));
    json.annotations.push(annotation(annId++, id, boxPolygon(18, 6, 30, 20), 2));
  }
  await fs.writeFile(path.join(root, 'annotations', `instances_${split}.json`), JSON.stringify(json));
  return root;
}

/** What the hostile split must produce for one image id: published, or failed with a reason. */
export interface HostileCase {
  readonly name: string;
  readonly id: string;
  /** The failure reason must match this; undefined means the sample must be published. */
  readonly reason?: RegExp;
  /** The failure's `file` must end with this. */
  readonly file?: string;
}

/**
 * The hostile dataset: split `hostile` (one bad thing per image id), split `broken` (an
 * annotation file that does not parse) and split `nofields` (valid JSON without the required
 * arrays). `outside` is a folder outside the root holding a valid image a symlink points to.
 */
export async function writeHostileCoco(root: string, outside: string): Promise<{ cases: HostileCase[]; root: string }> {
  const split = 'hostile';
  const imgDir = path.join(root, split);
  await fs.mkdir(path.join(root, 'annotations'), { recursive: true });
  await fs.mkdir(imgDir, { recursive: true });
  await fs.mkdir(outside, { recursive: true });
  const json: CocoJson = { images: [], annotations: [], categories: CATEGORIES };
  const cases: HostileCase[] = [];
  let annId = 100;
  const box = boxPolygon(4, 4, 20, 16);
  const add = async (
    c: Omit<HostileCase, 'id'> & { id: number },
    file: { name: unknown; bytes?: Uint8Array; width?: unknown; height?: unknown },
    segmentation: unknown = box,
  ) => {
    if (file.bytes && typeof file.name === 'string') await fs.writeFile(path.join(imgDir, file.name), file.bytes);
    json.images.push({ id: c.id, file_name: file.name, width: file.width ?? W, height: file.height ?? H });
    // An image record without a usable size gets no annotation: it would be reported a second
    // time, as an orphan annotation.
    if (segmentation !== null) json.annotations.push(annotation(annId++, c.id, segmentation));
    cases.push({ ...c, id: String(c.id) });
  };
  const jpeg = await jpegBytes(1);

  await add({ id: 1, name: 'valid JPEG' }, { name: 'ok.jpg', bytes: jpeg });
  await add({ id: 2, name: 'truncated JPEG', reason: /cannot decode image/, file: 'truncated.jpg' }, { name: 'truncated.jpg', bytes: jpeg.subarray(0, Math.floor(jpeg.length / 2)) });
  await add({ id: 3, name: 'zero-byte file', reason: /cannot decode image: the file is empty \(0 bytes\)/, file: 'empty.jpg' }, { name: 'empty.jpg', bytes: new Uint8Array() });
  await add(
    { id: 4, name: 'text file named .jpg', reason: /cannot decode image/, file: 'notes.jpg' },
    { name: 'notes.jpg', bytes: new TextEncoder().encode('this is a shopping list, not a picture\n') },
  );
  await add(
    { id: 5, name: 'decompression bomb (PNG header claims 50,000 x 50,000)', reason: /cannot decode image: .*(pixel limit|exceeds)/i, file: 'bomb.png' },
    { name: 'bomb.png', bytes: bombPng(50_000), width: 50_000, height: 50_000 },
    [],
  );
  await add({ id: 6, name: '16-bit RGB PNG' }, { name: 'rgb16.png', bytes: await fromRaw(6).toColourspace('rgb16').png().toBuffer() });
  await add({ id: 7, name: '16-bit grayscale PNG' }, { name: 'grey16.png', bytes: await fromRaw(7).toColourspace('grey16').png().toBuffer() });
  await add({ id: 8, name: '8-bit grayscale PNG' }, { name: 'grey.png', bytes: await fromRaw(8).toColourspace('b-w').png().toBuffer() });
  await add({ id: 9, name: 'CMYK JPEG' }, { name: 'cmyk.jpg', bytes: await fromRaw(9).toColourspace('cmyk').jpeg().toBuffer() });
  await add({ id: 10, name: 'RGBA PNG' }, { name: 'rgba.png', bytes: await fromRaw(10).ensureAlpha(0.5).png().toBuffer() });
  await add({ id: 11, name: 'EXIF orientation 6 JPEG' }, { name: 'exif6.jpg', bytes: await fromRaw(11).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer() });
  await add(
    { id: 12, name: 'polygon with 2 points', reason: /at least 3 points/, file: 'instances_hostile.json' },
    { name: 'poly2.png', bytes: await pngBytes(12) },
    [[1, 1, 9, 9]],
  );
  await add(
    { id: 13, name: 'RLE counts do not sum to h*w', reason: /bad segmentation.*(sum|counts|pixels)/i, file: 'instances_hostile.json' },
    { name: 'rlesum.png', bytes: await pngBytes(13) },
    { size: [H, W], counts: [10, 5, 3] },
  );
  await add(
    { id: 14, name: 'RLE mask size differs from its image', reason: /mask is|size/i, file: 'instances_hostile.json' },
    { name: 'rlesize.png', bytes: await pngBytes(14) },
    { size: [H + 1, W], counts: [(H + 1) * W] },
  );
  await add(
    { id: 15, name: 'image size differs from its annotation', reason: /image is 32x24 but its annotation says 40x24/, file: 'wrongsize.png' },
    { name: 'wrongsize.png', bytes: await pngBytes(15), width: 40 },
    [],
  );
  await add(
    { id: 16, name: 'file_name ../../etc/passwd', reason: /outside the dataset root; refused/, file: 'instances_hostile.json' },
    { name: '../../etc/passwd' },
  );
  await add(
    { id: 17, name: 'absolute file_name', reason: /is absolute; refused/, file: 'instances_hostile.json' },
    { name: '/etc/passwd' },
  );
  await fs.writeFile(path.join(outside, 'secret.png'), await pngBytes(18));
  await fs.symlink(path.join(outside, 'secret.png'), path.join(imgDir, 'link.png'));
  await add(
    { id: 18, name: 'symlink out of the root', reason: /symbolic link leading outside the dataset root/, file: 'instances_hostile.json' },
    { name: 'link.png' },
  );
  await add({ id: 19, name: 'image file missing', reason: /not found/, file: 'instances_hostile.json' }, { name: 'missing.png' });
  await add(
    { id: 20, name: 'image record without width', reason: /positive integer "width"/, file: 'instances_hostile.json' },
    { name: 'nowidth.png', bytes: await pngBytes(20), width: 'wide' },
    null,
  );
  // Two image records with id 21: neither may publish, since annotations name images by id.
  await fs.writeFile(path.join(imgDir, 'dup-a.png'), await pngBytes(21));
  await fs.writeFile(path.join(imgDir, 'dup-b.png'), await pngBytes(22));
  json.images.push({ id: 21, file_name: 'dup-a.png', width: W, height: H }, { id: 21, file_name: 'dup-b.png', width: W, height: H });
  json.annotations.push(annotation(annId++, 21, box));
  cases.push({ name: 'duplicate image id (first record)', id: '21', reason: /image id 21 is used by 2 image records/, file: 'instances_hostile.json' });
  cases.push({ name: 'duplicate image id (second record)', id: '21', reason: /image id 21 is used by 2 image records/, file: 'instances_hostile.json' });
  // An annotation whose image_id is in no image record.
  json.annotations.push(annotation(annId++, 999, box));
  cases.push({ name: 'annotation pointing to a missing image', id: '999', reason: /image_id 999, which is not in "images"/, file: 'instances_hostile.json' });

  await fs.writeFile(path.join(root, 'annotations', `instances_${split}.json`), JSON.stringify(json));
  await fs.writeFile(path.join(root, 'annotations', 'instances_broken.json'), '{"images": [{"id": 1, "file_name": "a.png"');
  await fs.writeFile(path.join(root, 'annotations', 'instances_nofields.json'), JSON.stringify({ images: [] }));
  return { cases, root };
}
