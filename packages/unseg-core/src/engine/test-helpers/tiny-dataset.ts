// Test helper (not exported): a tiny in-memory dataset of generated images and box masks.
import sharp from 'sharp';
import { SampleError } from '../../errors.js';
import { rleEncode } from '../../masks/index.js';
import type { DatasetReader, Sample, SampleObject } from '../../plugin/types.js';

export interface TinySpec {
  readonly count: number;
  readonly width?: number;
  readonly height?: number;
  /** Positions whose image bytes are not an image. */
  readonly corrupt?: readonly number[];
  /** Positions whose annotation claims a wrong size. */
  readonly wrongSize?: readonly number[];
  /** Positions replaced by a reader error. */
  readonly readerErrors?: readonly number[];
  /** Positions whose first object is of category 3 ("other") instead of 1 (a relabelled dataset). */
  readonly relabel?: readonly number[];
  /** Positions whose sample is replaced by what the function makes of it (a malformed one). */
  readonly tamper?: ReadonlyMap<number, (sample: Sample) => unknown>;
}

async function png(width: number, height: number, seed: number): Promise<Uint8Array> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed * 31) % 251;
  const out = await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return new Uint8Array(out);
}

function boxObject(id: string, width: number, height: number, x0: number, y0: number, x1: number, y1: number, crowd = false): SampleObject {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 1;
  const rle = rleEncode({ width, height, data });
  return {
    id,
    categoryId: crowd ? 2 : 1,
    category: crowd ? 'crowd-thing' : 'thing',
    isThing: true,
    isCrowd: crowd,
    mask: async () => rle,
    annotation: { id, box: [x0, y0, x1, y1] },
  };
}

export async function tinyReader(spec: TinySpec): Promise<DatasetReader & { opened: number }> {
  const width = spec.width ?? 24;
  const height = spec.height ?? 16;
  const items: (Sample | SampleError)[] = [];
  for (let i = 0; i < spec.count; i++) {
    const id = `img${String(i).padStart(3, '0')}`;
    if (spec.readerErrors?.includes(i)) {
      items.push(new SampleError(`ann/${id}.json`, 'annotation lacks "segmentation"', { sampleId: id }));
      continue;
    }
    const bytes = spec.corrupt?.includes(i) ? new TextEncoder().encode('not an image at all') : await png(width, height, i);
    const wrong = spec.wrongSize?.includes(i);
    const first = boxObject(`${id}-a`, width, height, 2, 2, 10, 8);
    const sample: Sample = {
      id,
      split: 'train',
      image: { kind: 'bytes', bytes, name: `images/${id}.png` },
      width: wrong ? width + 1 : width,
      height,
      objects: [
        spec.relabel?.includes(i) ? { ...first, categoryId: 3, category: 'other' } : first,
        boxObject(`${id}-c`, width, height, 12, 4, 20, 12, true),
      ],
    };
    const tamper = spec.tamper?.get(i);
    items.push(tamper ? (tamper(sample) as Sample) : sample);
  }
  const reader = {
    root: '/virtual',
    opened: 0,
    async splits() {
      return ['train'];
    },
    async categories() {
      return [
        { id: 1, name: 'thing', isThing: true },
        { id: 2, name: 'crowd-thing', isThing: true },
        { id: 3, name: 'other', isThing: true },
      ];
    },
    async *samples() {
      for (const item of items) {
        reader.opened++;
        yield item;
      }
    },
  };
  return reader;
}
