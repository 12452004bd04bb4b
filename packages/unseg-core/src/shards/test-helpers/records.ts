import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { FailureRecord, PublishedRecord } from '../types.js';

/** A tiny real PNG whose pixels depend on `seed`, so every record's bytes differ. */
export async function tinyPng(seed: number, width = 4, height = 3): Promise<Uint8Array> {
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < px.length; i++) px[i] = (seed * 31 + i * 7) % 256;
  return new Uint8Array(await sharp(px, { raw: { width, height, channels: 3 } }).png().toBuffer());
}

/** A record at `position` with 0, 1 or 2 objects depending on the position. */
export async function makeRecord(position: number, split = 'train'): Promise<PublishedRecord> {
  const objects = [...Array(position % 3).keys()].map((k) => ({
    id: `${position}-${k}`,
    categoryId: 10 + k,
    category: k === 0 ? 'wall' : 'window',
    isThing: k === 1,
    isCrowd: k === 2,
    bbox: [k, 0, 2, 1.5] as [number, number, number, number],
    area: 3 + k,
    rle: `rle${position}${k}`,
    annotation: JSON.stringify({ id: k, image_id: position }),
  }));
  return {
    position,
    id: `img-${position}`,
    split,
    width: 4,
    height: 3,
    image: { bytes: await tinyPng(position), path: `img-${position}.png` },
    sourcePath: `images/${split}/img-${position}.jpg`,
    objects,
    noise: { maxAbsFg: 8, maxAbsBg: position % 3, meanAbs: 1 + position / 100, psnr: position === 0 ? Infinity : 40 + position, promptFraction: 0.25 },
  };
}

/** A failure at `position`. */
export function makeFailure(position: number, split = 'train'): FailureRecord {
  return { position, split, id: `img-${position}`, file: `images/${split}/img-${position}.jpg`, code: 'IMAGE_CORRUPT', reason: 'truncated JPEG' };
}

/** A fresh temp folder, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'unseg-shards-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Feeds positions 0..n-1 to a writer-like sink; `failed` positions become failures. */
export async function feed(
  w: { write(r: PublishedRecord): Promise<void>; fail(f: FailureRecord): Promise<void>; isDone(p: number): boolean },
  positions: Iterable<number>,
  failed: ReadonlySet<number> = new Set(),
  split = 'train',
): Promise<void> {
  for (const p of positions) {
    if (w.isDone(p)) continue;
    if (failed.has(p)) await w.fail(makeFailure(p, split));
    else await w.write(await makeRecord(p, split));
  }
}
