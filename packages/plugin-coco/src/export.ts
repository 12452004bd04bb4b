import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  ConfigError,
  compareStrings,
  describeError,
  isRecord,
  readJsonLimited,
  resolveInsideRoot,
  rleDecode,
  rleFromString,
  type DatasetExportHook,
  type ExportJob,
  type ExportRow,
  type ExportSplitResult,
} from '@unseg/core';
import { discoverSources, findCocoRoot, type AnnotationKind, type SplitSource } from './layout.js';
import { readSegmentIds } from './panoptic.js';

type Pick = (all: readonly SplitSource[], prefer: AnnotationKind) => Map<string, SplitSource>;

const posix = (p: string): string => p.split(path.sep).join('/');

interface Published {
  readonly fileName: string;
  readonly width: number;
  readonly height: number;
  readonly objectIds: readonly string[];
  /** Each object's original annotation record as the shard stored it, by object id (JSON text). */
  readonly records: ReadonlyMap<string, string>;
  /** Panoptic: digest of the segment-id map the stored masks draw (see segmentMapDigest). */
  readonly segments?: string;
}

/** sha256 of a segment-id map (one little-endian uint32 per pixel, row-major). */
function digestIds(ids: Uint32Array): string {
  return createHash('sha256').update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex');
}

/**
 * The segment-id map a panoptic row's masks draw: each pixel holds the id of the segment whose
 * mask covers it, 0 elsewhere. Equal to the original PNG's ids when it is unchanged, since the
 * reader makes each segment's mask exactly the pixels with its id (and refuses unlisted ids).
 */
function segmentMapDigest(row: ExportRow): string {
  const ids = new Uint32Array(row.width * row.height);
  for (const o of row.objects) {
    const id = Number(o.id);
    const mask = rleDecode(rleFromString(o.rle, row.height, row.width)).data;
    for (let i = 0; i < mask.length; i++) if (mask[i]) ids[i] = id;
  }
  return digestIds(ids);
}

const sameIds = (a: readonly string[], b: readonly string[]): boolean => {
  const x = [...a].sort(compareStrings);
  const y = [...b].sort(compareStrings);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/**
 * COCO export. With the original dataset, its annotation JSON is the source of truth: copied
 * as it is (info, licences, categories, annotations, every extra field) except that `images[]`
 * keeps only the published images, each `file_name` pointing to its PNG, and `annotations[]`
 * keeps only theirs. The rows are checked against it (same ids, same objects, same size), so an
 * original edited since the run is refused rather than silently mixed with older pixels.
 * Without it, an instances JSON is rebuilt from the rows (see {@link fromShards}).
 */
export function cocoExportHook(options: { readonly prefer: AnnotationKind; readonly maxJsonBytes: number; readonly pick: Pick }): DatasetExportHook {
  return async (job) => (job.original !== undefined ? fromOriginal(job, job.original, options) : fromShards(job));
}

async function fromOriginal(
  job: ExportJob,
  original: string,
  options: { readonly prefer: AnnotationKind; readonly maxJsonBytes: number; readonly pick: Pick },
): Promise<ExportSplitResult> {
  const { split } = job;
  const found = await findCocoRoot(original);
  if (!found) throw new ConfigError(`original ${original} is not a COCO dataset (pass --from-shards to rebuild the annotations from the shards)`);
  const src = options.pick(await discoverSources(found), options.prefer).get(split);
  if (!src) throw new ConfigError(`original ${original} has no split "${split}"`);
  const safe = await resolveInsideRoot(found, path.dirname(src.annotationFile), path.basename(src.annotationFile));
  if (!safe.ok) throw new ConfigError(`${src.annotationFile}: ${safe.reason}`);
  const json = await readJsonLimited(src.annotationFile, options.maxJsonBytes);
  if (!isRecord(json) || !Array.isArray(json.images) || !Array.isArray(json.annotations)) {
    throw new ConfigError(`${src.annotationFile}: not a COCO annotation file`);
  }
  // Shard paths are relative to the run's input folder, which may be the parent of coco/.
  const imageDirRel = posix(path.relative(original, src.imageDir));
  const annRel = posix(path.relative(original, src.annotationFile));

  const published = new Map<string, Published>();
  for await (const row of job.rows) {
    if (!row.image.path.startsWith(`${imageDirRel}/`)) {
      throw new ConfigError(`image ${row.id}: published path ${JSON.stringify(row.image.path)} is not under the split's image folder ${imageDirRel}/`);
    }
    if (published.has(row.id)) throw new ConfigError(`image ${row.id} appears twice in split ${split}`);
    await job.out.write(row.image.path, row.image.bytes);
    published.set(row.id, {
      fileName: row.image.path.slice(imageDirRel.length + 1),
      width: row.width,
      height: row.height,
      objectIds: row.objects.map((o) => o.id),
      records: new Map(row.objects.filter((o) => o.annotation !== undefined).map((o) => [o.id, JSON.stringify(o.annotation)])),
      ...(src.kind === 'panoptic' ? { segments: segmentMapDigest(row) } : {}),
    });
  }

  const byImage = new Map<string, Record<string, unknown>[]>();
  for (const ann of json.annotations as unknown[]) {
    if (!isRecord(ann)) continue;
    const key = String(ann.image_id);
    byImage.set(key, [...(byImage.get(key) ?? []), ann]);
  }
  const keptImages: unknown[] = [];
  for (const image of json.images as unknown[]) {
    if (!isRecord(image)) continue;
    const p = published.get(String(image.id));
    if (!p) continue;
    if (image.width !== p.width || image.height !== p.height) {
      throw new ConfigError(`image ${String(image.id)}: ${String(image.width)}x${String(image.height)} in ${annRel}, ${p.width}x${p.height} in the shards: the original changed since the run`);
    }
    const anns = byImage.get(String(image.id)) ?? [];
    // The objects' records as the original has them now (an instance annotation, or a panoptic
    // segment), to compare with what the run stored: a relabelled or redrawn object is a change.
    const records: [string, unknown][] =
      src.kind === 'instances'
        ? anns.map((a) => [String(a.id), a])
        : anns.flatMap((a) => (Array.isArray(a.segments_info) ? a.segments_info.map((s: unknown): [string, unknown] => [String(isRecord(s) ? s.id : s), s]) : []));
    if (!sameIds(records.map(([id]) => id), p.objectIds)) {
      throw new ConfigError(`image ${String(image.id)}: its annotations in ${annRel} differ from the shards' objects: the original changed since the run (or pass --from-shards)`);
    }
    const edited = records.find(([id, record]) => p.records.has(id) && p.records.get(id) !== JSON.stringify(record));
    if (edited) {
      throw new ConfigError(
        `image ${String(image.id)}: annotation ${edited[0]} in ${annRel} differs from the one the shards were made from (category, mask or other fields): the original changed since the run (or pass --from-shards)`,
      );
    }
    keptImages.push({ ...image, file_name: p.fileName });
  }
  const keptIds = new Set(keptImages.map((i) => String((i as { id: unknown }).id)));
  for (const id of published.keys()) {
    if (!keptIds.has(id)) throw new ConfigError(`image ${id} is in the shards but not in ${annRel}: the original changed since the run`);
  }
  const keptAnnotations = (json.annotations as unknown[]).filter((a) => isRecord(a) && keptIds.has(String(a.image_id)));
  const annotationFiles = [annRel];
  if (src.kind === 'panoptic' && src.pngDir) {
    // The segment-id PNGs are annotations, not images: they are copied unchanged, once each is
    // shown to draw the segments the shards were made from (a PNG redrawn since the run is not).
    const pngDirRel = posix(path.relative(original, src.pngDir));
    for (const a of keptAnnotations as Record<string, unknown>[]) {
      const rel = `${pngDirRel}/${String(a.file_name)}`;
      const p = published.get(String(a.image_id)) as Published;
      const bytes = await job.out.readOriginal(rel);
      let now: string;
      try {
        now = digestIds(await readSegmentIds(bytes, p.height, p.width));
      } catch (err) {
        throw new ConfigError(`image ${String(a.image_id)}: the original ${rel} no longer reads (${describeError(err)}): it changed since the run (or pass --from-shards)`);
      }
      if (now !== p.segments) {
        throw new ConfigError(`image ${String(a.image_id)}: the original ${rel} draws other segments than the shards' masks: it changed since the run (or pass --from-shards)`);
      }
      await job.out.write(rel, bytes);
    }
    annotationFiles.push(`${pngDirRel}/`);
  }
  await job.out.write(annRel, JSON.stringify({ ...json, images: keptImages, annotations: keptAnnotations }));
  const dropped = json.images.length - keptImages.length;
  return {
    images: published.size,
    annotations: 'original',
    annotationFiles,
    notes: dropped > 0 ? [`${dropped} image(s) of ${annRel} are not in the shards (failed or not run) and were left out with their annotations`] : [],
  };
}

/** Where a row's image sits in a COCO layout: `[base/]<split>/<file>` or `[base/]images/<split>/<file>`. */
function locate(row: ExportRow, split: string): { base: string[]; fileName: string } {
  const parts = row.image.path.split('/');
  const at = parts.indexOf(split);
  if (at < 0 || at === parts.length - 1) {
    throw new ConfigError(`image ${row.id}: published path ${JSON.stringify(row.image.path)} has no "${split}/" folder; cannot place it in a COCO layout`);
  }
  const before = parts.slice(0, at);
  const base = before[before.length - 1] === 'images' ? before.slice(0, -1) : before;
  return { base, fileName: parts.slice(at + 1).join('/') };
}

function imageIdOf(row: ExportRow): number | string {
  for (const o of row.objects) {
    if (isRecord(o.annotation) && (typeof o.annotation.image_id === 'number' || typeof o.annotation.image_id === 'string')) return o.annotation.image_id;
  }
  return /^(0|[1-9]\d{0,14})$/.test(row.id) ? Number(row.id) : row.id;
}

/**
 * Without the original: an instances JSON at `[base/]annotations/instances_<split>.json` (the
 * official layout, whichever layout the input had). Each object's stored annotation is used as
 * it is when it is an instances record; otherwise (a panoptic segment) one is made from the
 * stored RLE. What the shards do not hold is lost: categories without objects, supercategories,
 * info, licences and images that were not published.
 */
async function fromShards(job: ExportJob): Promise<ExportSplitResult> {
  const { split } = job;
  let annRel: string | undefined;
  const images: unknown[] = [];
  const annotations: unknown[] = [];
  const categories = new Map<number, { id: number; name: string }>();
  let synthesised = 0;
  for await (const row of job.rows) {
    const { base, fileName } = locate(row, split);
    const rel = [...base, 'annotations', `instances_${split}.json`].join('/');
    if (annRel !== undefined && annRel !== rel) throw new ConfigError(`split ${split}: images in two dataset roots (${annRel}, ${rel})`);
    annRel = rel;
    await job.out.write(row.image.path, row.image.bytes);
    const imageId = imageIdOf(row);
    images.push({ id: imageId, file_name: fileName, width: row.width, height: row.height });
    for (const o of row.objects) {
      categories.set(o.categoryId, { id: o.categoryId, name: o.category });
      const a = o.annotation;
      if (isRecord(a) && a.segmentation !== undefined && a.image_id !== undefined && a.id !== undefined) annotations.push(a);
      else {
        synthesised++;
        annotations.push({
          id: /^\d+$/.test(o.id) ? Number(o.id) : o.id,
          image_id: imageId,
          category_id: o.categoryId,
          segmentation: { size: [row.height, row.width], counts: o.rle },
          area: o.area,
          bbox: o.bbox,
          iscrowd: o.isCrowd ? 1 : 0,
        });
      }
    }
  }
  if (annRel === undefined) return { images: 0, annotations: 'shards', annotationFiles: [], notes: [`split ${split}: no rows`] };
  await job.out.write(
    annRel,
    JSON.stringify({
      info: { description: `rebuilt by unseg-pipeline export from shards (split ${split}); the original's info and licences were not available` },
      licenses: [],
      images,
      annotations,
      categories: [...categories.values()].sort((a, b) => a.id - b.id),
    }),
  );
  const notes = ['rebuilt from the shards: categories without objects, supercategories, info and licences are not in them'];
  if (synthesised > 0) notes.push(`${synthesised} annotation(s) were not instances records (panoptic segments): written as RLE from the stored masks`);
  return { images: images.length, annotations: 'shards', annotationFiles: [annRel], notes };
}
