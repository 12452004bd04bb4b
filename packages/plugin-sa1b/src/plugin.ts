import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  JsonReadError,
  PLUGIN_CONTRACT_VERSION,
  SampleError,
  asBbox,
  compareStrings,
  describeError,
  isDirectory,
  isPositiveInt,
  isRecord,
  listSorted,
  readJsonLimited,
  resolveInsideRoot,
  rleFromString,
  type Category,
  type DatasetPlugin,
  type DatasetReader,
  type OpenOptions,
  type Rle,
  type Sample,
  type SampleObject,
} from '@unseg/core';
import { sa1bExport } from './export.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** SA-1B is released as one training set, without splits or categories. */
export const SA1B_SPLIT = 'train';
export const SA1B_CATEGORY: Category = { id: 1, name: 'object', isThing: true };

/** Default ceiling for one per-image JSON (real SA-1B files are a few MB). */
export const SA1B_DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024;

export interface Sa1bPluginOptions {
  /** Largest per-image JSON read, in bytes; larger files fail their sample. */
  readonly maxJsonBytes?: number;
}

/** One SA-1B annotation as published (segment-anything's dataset card). */
export interface Sa1bAnnotation {
  readonly id: number;
  readonly segmentation: { readonly size: readonly [number, number]; readonly counts: string };
  readonly area: number;
  readonly bbox: readonly [number, number, number, number];
  readonly predicted_iou: number;
  readonly point_coords: readonly (readonly [number, number])[];
  readonly stability_score: number;
  readonly crop_box: readonly [number, number, number, number];
}

export interface Sa1bImage {
  readonly image_id: number;
  readonly width: number;
  readonly height: number;
  readonly file_name: string;
}

const JSON_NAME = /^sa_(\d+)\.json$/;
const JPG_NAME = /^sa_(\d+)\.jpg$/;

interface Item {
  readonly dir: string;
  readonly n: bigint;
  readonly stem: string;
  readonly json?: string;
  readonly jpg?: string;
}

/** Per-image files in `dir`, paired by stem. */
async function itemsIn(dir: string): Promise<Item[]> {
  const byStem = new Map<string, { n: bigint; json?: string; jpg?: string }>();
  for (const name of await listSorted(dir)) {
    const j = JSON_NAME.exec(name) ?? JPG_NAME.exec(name);
    if (!j) continue;
    const stem = name.slice(0, -path.extname(name).length);
    const e = byStem.get(stem) ?? { n: BigInt(j[1] as string) };
    if (name.endsWith('.json')) e.json = name;
    else e.jpg = name;
    byStem.set(stem, e);
  }
  return [...byStem.entries()].map(([stem, e]) => ({ dir, stem, ...e }));
}

/** The folders holding per-image files: `sa_*` subfolders (the tar layout) and the root itself. */
async function dataDirs(root: string): Promise<string[]> {
  const dirs = [root];
  for (const name of await listSorted(root)) {
    if (name.startsWith('sa_') && (await isDirectory(path.join(root, name)))) dirs.push(path.join(root, name));
  }
  return dirs;
}

function validateAnnotation(a: unknown, height: number, width: number): string | undefined {
  if (!isRecord(a)) return 'is not an object';
  if (typeof a.id !== 'number' || !Number.isInteger(a.id)) return 'has no integer "id"';
  const seg = a.segmentation;
  if (!isRecord(seg) || typeof seg.counts !== 'string' || !Array.isArray(seg.size) || seg.size.length !== 2) {
    return '"segmentation" must be {size: [h, w], counts: string} (COCO compressed RLE)';
  }
  if (seg.size[0] !== height || seg.size[1] !== width) {
    return `segmentation size ${JSON.stringify(seg.size)} differs from the image's [${height}, ${width}]`;
  }
  if (typeof a.area !== 'number') return 'has no numeric "area"';
  if (!asBbox(a.bbox)) return '"bbox" must be [x, y, w, h]';
  if (!asBbox(a.crop_box)) return '"crop_box" must be [x, y, w, h]';
  if (typeof a.predicted_iou !== 'number') return 'has no numeric "predicted_iou"';
  if (typeof a.stability_score !== 'number') return 'has no numeric "stability_score"';
  if (!Array.isArray(a.point_coords) || !a.point_coords.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number'))) {
    return '"point_coords" must be a list of [x, y]';
  }
  return undefined;
}

class Sa1bReader implements DatasetReader {
  constructor(
    readonly root: string,
    private readonly followSymlinks: boolean,
    private readonly maxJsonBytes: number,
  ) {}

  async splits(): Promise<string[]> {
    return [SA1B_SPLIT];
  }

  private check(split: string): void {
    if (split !== SA1B_SPLIT) throw new ConfigError(`SA-1B has a single split "${SA1B_SPLIT}"; "${split}" was asked for`);
  }

  async categories(split: string): Promise<readonly Category[]> {
    this.check(split);
    return [SA1B_CATEGORY];
  }

  async *samples(split: string): AsyncIterable<Sample | SampleError> {
    this.check(split);
    // Folder by folder (root first, then sa_* by name), and within one by the image number, so
    // that sa_2 comes before sa_10.
    const seen = new Map<string, string>();
    for (const dir of await dataDirs(this.root)) {
      const items = (await itemsIn(dir)).sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : compareStrings(a.stem, b.stem)));
      for (const item of items) {
        const where = path.join(dir, item.json ?? (item.jpg as string));
        const first = seen.get(item.stem);
        if (first !== undefined) {
          yield new SampleError(where, `${item.stem} also exists as ${first}; sample ids must be unique`, { sampleId: item.stem, code: 'DUPLICATE_IMAGE_ID' });
          continue;
        }
        seen.set(item.stem, where);
        if (item.json === undefined) {
          yield new SampleError(where, `no annotation file ${item.stem}.json beside the image`, { sampleId: item.stem, code: 'MISSING_ANNOTATION' });
          continue;
        }
        yield await this.sample(split, item.stem, dir, path.join(dir, item.json));
      }
    }
  }

  private async sample(split: string, id: string, dir: string, jsonFile: string): Promise<Sample | SampleError> {
    const fail = (reason: string, code?: string, cause?: unknown) =>
      new SampleError(jsonFile, reason, { sampleId: id, ...(code ? { code } : {}), ...(cause ? { cause } : {}) });
    const jsonOk = await resolveInsideRoot(this.root, dir, path.basename(jsonFile), this.followSymlinks);
    if (!jsonOk.ok) return fail(jsonOk.reason, 'ANNOTATION_FILE_INVALID');
    let json: unknown;
    try {
      json = await readJsonLimited(jsonFile, this.maxJsonBytes);
    } catch (err) {
      return fail(err instanceof JsonReadError ? err.message : `cannot read: ${describeError(err)}`, 'ANNOTATION_FILE_INVALID', err);
    }
    if (!isRecord(json) || !isRecord(json.image) || !Array.isArray(json.annotations)) {
      return fail('not an SA-1B annotation file: expected {"image": {...}, "annotations": [...]}', 'ANNOTATION_FILE_INVALID');
    }
    const image = json.image;
    if (
      typeof image.image_id !== 'number' ||
      !Number.isInteger(image.image_id) ||
      !isPositiveInt(image.width) ||
      !isPositiveInt(image.height) ||
      typeof image.file_name !== 'string'
    ) {
      return fail('"image" must have integer "image_id", positive integer "width" and "height", and a string "file_name"', 'ANNOTATION_FILE_INVALID');
    }
    const { width, height } = image;
    const imgFile = await resolveInsideRoot(this.root, dir, image.file_name, this.followSymlinks);
    if (!imgFile.ok) return fail(`image: ${imgFile.reason}`, 'IMAGE_UNAVAILABLE');

    const objects: SampleObject[] = [];
    const ids = new Set<number>();
    for (const [i, a] of json.annotations.entries()) {
      const problem = validateAnnotation(a, height, width);
      const label = isRecord(a) && typeof a.id === 'number' ? `annotation ${a.id}` : `annotations[${i}]`;
      if (problem) return fail(`${label} ${problem}`);
      const ann = a as unknown as Sa1bAnnotation;
      if (ids.has(ann.id)) return fail(`annotation id ${ann.id} appears twice`);
      ids.add(ann.id);
      objects.push({
        id: String(ann.id),
        categoryId: SA1B_CATEGORY.id,
        category: SA1B_CATEGORY.name,
        isThing: true,
        isCrowd: false,
        bbox: asBbox(ann.bbox) as [number, number, number, number],
        annotation: ann,
        mask: async (): Promise<Rle> => {
          try {
            return rleFromString(ann.segmentation.counts, height, width);
          } catch (err) {
            throw new SampleError(jsonFile, `annotation ${ann.id}: bad segmentation: ${describeError(err)}`, { sampleId: id, code: 'MASK_INVALID', cause: err });
          }
        },
      });
    }
    return {
      id,
      split,
      image: { kind: 'file', path: imgFile.path },
      width,
      height,
      objects,
      meta: { format: 'sa1b', annotationFile: path.relative(this.root, jsonFile), image },
    };
  }
}

async function looksLikeSa1b(root: string): Promise<boolean> {
  for (const dir of await dataDirs(path.resolve(root))) {
    if ((await listSorted(dir)).some((n) => JSON_NAME.test(n))) return true;
  }
  return false;
}

/**
 * SA-1B (segment-anything): per-image `sa_<n>.jpg` + `sa_<n>.json`, either in the release's
 * `sa_<tar>/` folders or flat in the root. One object per mask, all of category "object".
 */
export function sa1bPlugin(options: Sa1bPluginOptions = {}): DatasetPlugin {
  const maxJsonBytes = options.maxJsonBytes ?? SA1B_DEFAULT_MAX_JSON_BYTES;
  return {
    name: 'sa1b',
    version: VERSION,
    contract: PLUGIN_CONTRACT_VERSION,
    description: 'SA-1B (segment-anything) per-image JSON: sa_*/sa_<n>.jpg + sa_<n>.json, or the same files flat',
    detect: looksLikeSa1b,
    async open(root: string, openOptions: OpenOptions = {}): Promise<DatasetReader> {
      if (!(await looksLikeSa1b(root))) throw new ConfigError(`${root} is not an SA-1B dataset: expected sa_<n>.json files in it or in its sa_* folders`);
      return new Sa1bReader(path.resolve(root), openOptions.followSymlinks ?? false, maxJsonBytes);
    },
    export: sa1bExport(maxJsonBytes),
  };
}
