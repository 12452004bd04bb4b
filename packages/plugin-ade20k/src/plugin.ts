import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import {
  ConfigError,
  PLUGIN_CONTRACT_VERSION,
  SampleError,
  compareStrings,
  describeError,
  isDirectory,
  listSorted,
  resolveInsideRoot,
  rleEncode,
  type Category,
  type DatasetPlugin,
  type DatasetReader,
  type OpenOptions,
  type Rle,
  type Sample,
  type SampleObject,
} from '@unseg/core';
import { ADE20K_CLASS_NAMES, ADE20K_THING_CLASSES } from './classes.js';
import { decodeClassIndexPng } from './label-png.js';
import { ade20kExport } from './export.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const DATASET_DIR = 'ADEChallengeData2016';
const IMAGE_EXT = /\.(jpe?g|png)$/i;
const CLASS_COUNT = ADE20K_CLASS_NAMES.length;

/** The ADE20K categories: class indices 1..150 (0, "other", is not a category). */
export const ADE20K_CATEGORIES: readonly Category[] = ADE20K_CLASS_NAMES.map((name, i) => ({
  id: i + 1,
  name,
  isThing: ADE20K_THING_CLASSES.has(i + 1),
}));

/** What an ADE20K object carries as its `annotation`: there is no record, only the PNG. */
export interface Ade20kSegmentAnnotation {
  /** The class-index PNG, relative to the reader's root. */
  readonly annotationFile: string;
  readonly classIndex: number;
  readonly pixelCount: number;
}

async function commonSplits(root: string): Promise<string[]> {
  const images = new Set<string>();
  for (const name of await listSorted(path.join(root, 'images'))) {
    if (await isDirectory(path.join(root, 'images', name))) images.add(name);
  }
  const out: string[] = [];
  for (const name of await listSorted(path.join(root, 'annotations'))) {
    if (images.has(name) && (await isDirectory(path.join(root, 'annotations', name)))) out.push(name);
  }
  return out;
}

/** The ADEChallengeData2016 folder: `root` itself, or its child of that name. */
async function findAdeRoot(root: string): Promise<string | undefined> {
  const resolved = path.resolve(root);
  const nested = path.join(resolved, DATASET_DIR);
  if ((await commonSplits(nested)).length > 0) return nested;
  if ((await commonSplits(resolved)).length > 0) return resolved;
  return undefined;
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, '');
}

interface LabelMap {
  readonly data: Uint8Array;
  /** Per class: pixel count and bounding box (x0, y0, x1, y1 inclusive). */
  readonly stats: Map<number, { count: number; x0: number; y0: number; x1: number; y1: number }>;
}

/** Reads an annotation PNG and its image's header: the class indices, checked against the image's size. */
async function readLabelPng(png: string, image: string): Promise<{ width: number; height: number; labels: LabelMap } | string> {
  let im;
  try {
    im = await sharp(image).metadata();
  } catch (err) {
    return `cannot read the header of image ${image}: ${describeError(err)}`;
  }
  // Header sizes, before any EXIF rotation: orientation is the engine's decision, applied to
  // the image and its masks alike.
  const decoded = await decodeClassIndexPng(png, { width: im.width, height: im.height });
  if (typeof decoded === 'string') return decoded;
  const { width, height, data } = decoded;
  const stats: LabelMap['stats'] = new Map();
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const c = data[i] as number;
      if (c === 0) continue;
      if (c > CLASS_COUNT) return `pixel (${x}, ${y}) has class index ${c}; ADE20K has 0..${CLASS_COUNT}`;
      const s = stats.get(c);
      if (!s) stats.set(c, { count: 1, x0: x, y0: y, x1: x, y1: y });
      else {
        s.count++;
        if (x < s.x0) s.x0 = x;
        if (x > s.x1) s.x1 = x;
        s.y1 = y;
      }
    }
  }
  return { width, height, labels: { data, stats } };
}

class Ade20kReader implements DatasetReader {
  constructor(
    readonly root: string,
    private readonly splitNames: readonly string[],
    private readonly followSymlinks: boolean,
  ) {}

  async splits(): Promise<string[]> {
    return [...this.splitNames];
  }

  private check(split: string): void {
    if (!this.splitNames.includes(split)) {
      throw new ConfigError(`ADE20K dataset at ${this.root} has no split "${split}" (it has: ${this.splitNames.join(', ') || 'none'})`);
    }
  }

  async categories(split: string): Promise<readonly Category[]> {
    this.check(split);
    return ADE20K_CATEGORIES;
  }

  async *samples(split: string): AsyncIterable<Sample | SampleError> {
    this.check(split);
    const imageDir = path.join(this.root, 'images', split);
    const annDir = path.join(this.root, 'annotations', split);
    const images = new Map<string, string[]>();
    for (const name of await listSorted(imageDir)) {
      if (!IMAGE_EXT.test(name)) continue;
      const list = images.get(stem(name)) ?? [];
      list.push(name);
      images.set(stem(name), list);
    }
    const pngs = new Map<string, string>();
    for (const name of await listSorted(annDir)) if (/\.png$/i.test(name)) pngs.set(stem(name), name);

    const ids = [...new Set([...images.keys(), ...pngs.keys()])].sort(compareStrings);
    for (const id of ids) {
      const imgs = images.get(id) ?? [];
      const png = pngs.get(id);
      if (imgs.length === 0) {
        yield new SampleError(path.join(annDir, png as string), 'annotation PNG has no image in ' + imageDir, { sampleId: id, code: 'MISSING_IMAGE' });
        continue;
      }
      if (imgs.length > 1) {
        yield new SampleError(path.join(imageDir, imgs[0] as string), `several images share the name ${id}: ${imgs.join(', ')}`, { sampleId: id });
        continue;
      }
      const imageName = imgs[0] as string;
      if (png === undefined) {
        yield new SampleError(path.join(imageDir, imageName), `no annotation PNG ${id}.png in ${annDir}`, { sampleId: id, code: 'MISSING_ANNOTATION' });
        continue;
      }
      yield await this.sample(split, id, imageDir, imageName, annDir, png);
    }
  }

  private async sample(split: string, id: string, imageDir: string, imageName: string, annDir: string, pngName: string): Promise<Sample | SampleError> {
    const image = await resolveInsideRoot(this.root, imageDir, imageName, this.followSymlinks);
    if (!image.ok) return new SampleError(path.join(imageDir, imageName), image.reason, { sampleId: id, code: 'IMAGE_UNAVAILABLE' });
    const png = await resolveInsideRoot(this.root, annDir, pngName, this.followSymlinks);
    if (!png.ok) return new SampleError(path.join(annDir, pngName), png.reason, { sampleId: id, code: 'MASK_UNAVAILABLE' });
    let read: Awaited<ReturnType<typeof readLabelPng>>;
    try {
      read = await readLabelPng(png.path, image.path);
    } catch (err) {
      return new SampleError(png.path, `cannot decode annotation PNG: ${describeError(err)}`, { sampleId: id, code: 'MASK_INVALID', cause: err });
    }
    if (typeof read === 'string') return new SampleError(png.path, read, { sampleId: id, code: 'MASK_INVALID' });
    const { width, height, labels } = read;
    const annotationFile = path.relative(this.root, png.path);
    const objects: SampleObject[] = [...labels.stats.keys()]
      .sort((a, b) => a - b)
      .map((c) => {
        const s = labels.stats.get(c) as { count: number; x0: number; y0: number; x1: number; y1: number };
        const category = ADE20K_CATEGORIES[c - 1] as Category;
        const annotation: Ade20kSegmentAnnotation = { annotationFile, classIndex: c, pixelCount: s.count };
        return {
          id: String(c),
          categoryId: c,
          category: category.name,
          isThing: category.isThing,
          // A semantic segment is never a COCO-style crowd region.
          isCrowd: false,
          bbox: [s.x0, s.y0, s.x1 - s.x0 + 1, s.y1 - s.y0 + 1] as const,
          annotation,
          mask: async (): Promise<Rle> => {
            const data = new Uint8Array(width * height);
            const src = labels.data;
            for (let i = 0; i < data.length; i++) data[i] = src[i] === c ? 1 : 0;
            return rleEncode({ height, width, data });
          },
        };
      });
    return {
      id,
      split,
      image: { kind: 'file', path: image.path },
      width,
      height,
      objects,
      meta: { format: 'ade20k', annotationFile, imageFile: path.relative(this.root, image.path) },
    };
  }
}

/**
 * ADE20K scene parsing (ADEChallengeData2016): `images/<split>/*.jpg` with
 * `annotations/<split>/*.png` class-index maps. One object per class present in an image (a
 * semantic segment, not an instance). The root may be ADEChallengeData2016 or its parent.
 */
export function ade20kPlugin(): DatasetPlugin {
  return {
    name: 'ade20k',
    version: VERSION,
    contract: PLUGIN_CONTRACT_VERSION,
    description: 'ADE20K scene parsing (ADEChallengeData2016): images/<split>/*.jpg + annotations/<split>/*.png class indices',
    async detect(root: string): Promise<boolean> {
      return (await findAdeRoot(root)) !== undefined;
    },
    async open(root: string, options: OpenOptions = {}): Promise<DatasetReader> {
      const found = await findAdeRoot(root);
      if (!found) {
        throw new ConfigError(`${root} is not an ADE20K dataset: expected ${DATASET_DIR}/images/<split>/ and ${DATASET_DIR}/annotations/<split>/`);
      }
      return new Ade20kReader(found, await commonSplits(found), options.followSymlinks ?? false);
    },
    export: ade20kExport,
  };
}
