// Turns a parsed COCO JSON (instances or panoptic) into a validated, ordered list of entries.
// Only structure is checked here; masks are decoded later, lazily, per object.
import {
  SampleError,
  isPositiveInt,
  isRecord,
  type Category,
} from '@unseg/core';
import type { AnnotationKind } from './layout.js';

export type ImageId = number | string;

export interface ImageRecord {
  readonly id: ImageId;
  readonly file_name: string;
  readonly width: number;
  readonly height: number;
  readonly [key: string]: unknown;
}

export type Entry =
  | { readonly ok: true; readonly image: ImageRecord; readonly annotations: readonly Record<string, unknown>[] }
  | { readonly ok: false; readonly error: SampleError };

export interface ParsedSplit {
  readonly categories: readonly Category[];
  readonly categoryById: ReadonlyMap<number, Category>;
  readonly entries: readonly Entry[];
}

function isImageId(v: unknown): v is ImageId {
  return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && v.length > 0);
}

/** Numbers in numeric order, then strings; COCO ids are integers, so this is normally "by id". */
export function compareImageIds(a: ImageId, b: ImageId): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function fileError(file: string, reason: string): SampleError {
  return new SampleError(file, reason, { code: 'ANNOTATION_FILE_INVALID' });
}

function parseCategories(file: string, raw: unknown, kind: AnnotationKind): Category[] {
  if (!Array.isArray(raw)) throw fileError(file, 'has no "categories" array');
  const seen = new Set<number>();
  const out: Category[] = [];
  raw.forEach((c: unknown, i) => {
    if (!isRecord(c) || typeof c.id !== 'number' || !Number.isInteger(c.id) || typeof c.name !== 'string') {
      throw fileError(file, `categories[${i}] must have an integer "id" and a string "name"`);
    }
    if (seen.has(c.id)) throw fileError(file, `category id ${c.id} is defined twice`);
    seen.add(c.id);
    // Instance annotations describe countable objects by definition, unless the file says
    // otherwise per category (panoptic files, and instances files converted from them, mark
    // stuff such as "sky" with isthing 0).
    const isThing = kind === 'instances' && c.isthing === undefined ? true : c.isthing === 1 || c.isthing === true;
    out.push({
      id: c.id,
      name: c.name,
      isThing,
      ...(typeof c.supercategory === 'string' ? { supercategory: c.supercategory } : {}),
    });
  });
  return out;
}

/**
 * Validates the top level and groups annotations by image. Throws a SampleError naming the
 * file when the file as a whole is unusable (the caller yields it once for the split); problems
 * confined to one image become an error entry for that image, in the image's place in the order.
 */
export function parseCocoJson(file: string, json: unknown, kind: AnnotationKind): ParsedSplit {
  if (!isRecord(json)) throw fileError(file, 'is not a JSON object');
  if (!Array.isArray(json.images)) throw fileError(file, 'has no "images" array');
  if (!Array.isArray(json.annotations)) throw fileError(file, 'has no "annotations" array');
  const categories = parseCategories(file, json.categories, kind);
  const categoryById = new Map(categories.map((c) => [c.id, c] as const));

  const valid: ImageRecord[] = [];
  const bad: { key: ImageId | undefined; error: SampleError }[] = [];
  json.images.forEach((img: unknown, i) => {
    if (!isRecord(img) || !isImageId(img.id)) {
      bad.push({ key: undefined, error: fileError(file, `images[${i}] has no valid "id"`) });
      return;
    }
    const sampleId = String(img.id);
    if (typeof img.file_name !== 'string' || !isPositiveInt(img.width) || !isPositiveInt(img.height)) {
      bad.push({
        key: img.id,
        error: new SampleError(file, `image ${sampleId} needs a string "file_name" and positive integer "width" and "height"`, {
          sampleId,
        }),
      });
      return;
    }
    valid.push(img as ImageRecord);
  });

  // An annotation names its image only by id, so when two image records share an id neither
  // can be told which annotations are its own: all records with that id fail rather than
  // publish an image with someone else's masks.
  const countById = new Map<string, number>();
  for (const img of valid) countById.set(String(img.id), (countById.get(String(img.id)) ?? 0) + 1);

  const byImage = new Map<string, Record<string, unknown>[]>();
  const orphans = new Map<string, { imageId: unknown; annIds: string[] }>();
  const malformed: number[] = [];
  json.annotations.forEach((ann: unknown, i) => {
    if (!isRecord(ann) || !isImageId(ann.image_id)) {
      malformed.push(i);
      return;
    }
    const key = String(ann.image_id);
    if (!countById.has(key)) {
      const o = orphans.get(key) ?? { imageId: ann.image_id, annIds: [] };
      o.annIds.push(String(ann.id ?? `#${i}`));
      orphans.set(key, o);
      return;
    }
    let list = byImage.get(key);
    if (!list) byImage.set(key, (list = []));
    list.push(ann);
  });

  const entries: { key: ImageId | undefined; entry: Entry }[] = [];
  for (const img of valid) {
    const sampleId = String(img.id);
    if ((countById.get(sampleId) ?? 0) > 1) {
      entries.push({
        key: img.id,
        entry: {
          ok: false,
          error: new SampleError(file, `image id ${sampleId} is used by ${countById.get(sampleId)} image records (this one: ${img.file_name})`, {
            sampleId,
            code: 'DUPLICATE_IMAGE_ID',
          }),
        },
      });
      continue;
    }
    entries.push({ key: img.id, entry: { ok: true, image: img, annotations: byImage.get(sampleId) ?? [] } });
  }
  for (const b of bad) entries.push({ key: b.key, entry: { ok: false, error: b.error } });
  // Stable sort: records without a usable id keep their file order, after every identified one.
  entries.sort((a, b) =>
    a.key === undefined ? (b.key === undefined ? 0 : 1) : b.key === undefined ? -1 : compareImageIds(a.key, b.key),
  );

  const tail: Entry[] = [];
  for (const [key, o] of orphans) {
    const ids = o.annIds.length > 5 ? `${o.annIds.slice(0, 5).join(', ')}, ... (${o.annIds.length} in all)` : o.annIds.join(', ');
    tail.push({
      ok: false,
      error: new SampleError(file, `annotation(s) ${ids} refer to image_id ${key}, which is not in "images"`, {
        sampleId: key,
        code: 'MISSING_IMAGE',
      }),
    });
  }
  if (malformed.length > 0) {
    tail.push({
      ok: false,
      error: fileError(file, `annotations[${malformed.slice(0, 5).join(', ')}${malformed.length > 5 ? ', ...' : ''}] are not objects with an "image_id" (${malformed.length} in all)`),
    });
  }
  return { categories, categoryById, entries: [...entries.map((e) => e.entry), ...tail] };
}
