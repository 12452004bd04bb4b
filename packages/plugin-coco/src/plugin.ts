import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  DEFAULT_MAX_JSON_BYTES,
  JsonReadError,
  PLUGIN_CONTRACT_VERSION,
  SampleError,
  asBbox,
  describeError,
  readJsonLimited,
  resolveInsideRoot,
  rleFromSegmentation,
  type Category,
  type DatasetPlugin,
  type DatasetReader,
  type OpenOptions,
  type Rle,
  type Sample,
  type SampleObject,
} from '@unseg/core';
import { discoverSources, findCocoRoot, type AnnotationKind, type SplitSource } from './layout.js';
import { parseCocoJson, type ImageRecord, type ParsedSplit } from './parse.js';
import { panopticObjects } from './panoptic.js';
import { cocoExportHook } from './export.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface CocoPluginOptions {
  /**
   * When a split has both `instances_<split>.json` and `panoptic_<split>.json`, which one to
   * read (the other is ignored). A split with only one kind uses that kind. Default: instances.
   */
  readonly prefer?: AnnotationKind;
  /** Largest annotation JSON read, in bytes (default 500 MiB); larger files fail the split. */
  readonly maxJsonBytes?: number;
}

/** What a COCO sample carries in `meta`: enough to write the dataset back in its own layout. */
export interface CocoSampleMeta {
  readonly format: 'coco';
  readonly kind: AnnotationKind;
  readonly layout: 'official' | 'roboflow';
  /** The annotation JSON, relative to the reader's root. */
  readonly annotationFile: string;
  /** The image record from the JSON, untouched. */
  readonly image: ImageRecord;
  /** Panoptic only: the per-image annotation record (file_name of the PNG, segments_info). */
  readonly panopticAnnotation?: Record<string, unknown>;
}

type Loaded = { readonly ok: true; readonly parsed: ParsedSplit } | { readonly ok: false; readonly error: SampleError };

class CocoReader implements DatasetReader {
  // A split's JSON can be hundreds of MB parsed; keep only the most recent one.
  private cache: { split: string; loaded: Promise<Loaded> } | undefined;

  constructor(
    readonly root: string,
    private readonly sources: ReadonlyMap<string, SplitSource>,
    private readonly followSymlinks: boolean,
    private readonly maxJsonBytes: number,
  ) {}

  async splits(): Promise<string[]> {
    return [...this.sources.keys()];
  }

  private source(split: string): SplitSource {
    const s = this.sources.get(split);
    if (!s) throw new ConfigError(`COCO dataset at ${this.root} has no split "${split}" (it has: ${[...this.sources.keys()].join(', ') || 'none'})`);
    return s;
  }

  private load(split: string): Promise<Loaded> {
    if (this.cache?.split === split) return this.cache.loaded;
    const src = this.source(split);
    const loaded = (async (): Promise<Loaded> => {
      // The annotation file is found by listing the root, but it may itself be a planted link.
      const safe = await resolveInsideRoot(this.root, path.dirname(src.annotationFile), path.basename(src.annotationFile), this.followSymlinks);
      if (!safe.ok) return { ok: false, error: new SampleError(src.annotationFile, safe.reason, { code: 'ANNOTATION_FILE_INVALID' }) };
      try {
        const json = await readJsonLimited(src.annotationFile, this.maxJsonBytes);
        return { ok: true, parsed: parseCocoJson(src.annotationFile, json, src.kind) };
      } catch (err) {
        if (err instanceof SampleError) return { ok: false, error: err };
        const reason = err instanceof JsonReadError ? err.message : `cannot read: ${describeError(err)}`;
        return { ok: false, error: new SampleError(src.annotationFile, reason, { code: 'ANNOTATION_FILE_INVALID', cause: err }) };
      }
    })();
    this.cache = { split, loaded };
    return loaded;
  }

  async categories(split: string): Promise<readonly Category[]> {
    const loaded = await this.load(split);
    if (!loaded.ok) throw loaded.error;
    return loaded.parsed.categories;
  }

  async *samples(split: string): AsyncIterable<Sample | SampleError> {
    const src = this.source(split);
    const loaded = await this.load(split);
    if (!loaded.ok) {
      // The whole file is unusable: one error for the file, not one per image it might hold.
      yield loaded.error;
      return;
    }
    for (const entry of loaded.parsed.entries) {
      if (!entry.ok) {
        yield entry.error;
        continue;
      }
      yield await this.sample(split, src, loaded.parsed, entry.image, entry.annotations);
    }
  }

  private async sample(
    split: string,
    src: SplitSource,
    parsed: ParsedSplit,
    image: ImageRecord,
    annotations: readonly Record<string, unknown>[],
  ): Promise<Sample | SampleError> {
    const sampleId = String(image.id);
    const annFile = src.annotationFile;
    const resolved = await resolveInsideRoot(this.root, src.imageDir, image.file_name, this.followSymlinks);
    if (!resolved.ok) {
      return new SampleError(annFile, `image ${sampleId}: ${resolved.reason}`, { sampleId, code: 'IMAGE_UNAVAILABLE' });
    }
    const { width, height } = image;
    let objects: SampleObject[];
    let panopticAnnotation: Record<string, unknown> | undefined;
    if (src.kind === 'instances') {
      const built = instanceObjects(annFile, sampleId, parsed, annotations, height, width);
      if (built instanceof SampleError) return built;
      objects = built;
    } else {
      if (annotations.length !== 1) {
        return new SampleError(
          annFile,
          `image ${sampleId} has ${annotations.length} panoptic annotation records; expected exactly one`,
          { sampleId },
        );
      }
      panopticAnnotation = annotations[0] as Record<string, unknown>;
      const built = await panopticObjects({
        annFile,
        sampleId,
        root: this.root,
        pngDir: src.pngDir as string,
        followSymlinks: this.followSymlinks,
        categoryById: parsed.categoryById,
        annotation: panopticAnnotation,
        height,
        width,
      });
      if (built instanceof SampleError) return built;
      objects = built;
    }
    const meta: CocoSampleMeta = {
      format: 'coco',
      kind: src.kind,
      layout: src.layout,
      annotationFile: path.relative(this.root, annFile),
      image,
      ...(panopticAnnotation ? { panopticAnnotation } : {}),
    };
    return { id: sampleId, split, image: { kind: 'file', path: resolved.path }, width, height, objects, meta: { ...meta } };
  }
}

function instanceObjects(
  annFile: string,
  sampleId: string,
  parsed: ParsedSplit,
  annotations: readonly Record<string, unknown>[],
  height: number,
  width: number,
): SampleObject[] | SampleError {
  const objects: SampleObject[] = [];
  for (const ann of annotations) {
    const annId = ann.id;
    if (typeof annId !== 'number' && typeof annId !== 'string') {
      return new SampleError(annFile, `image ${sampleId}: an annotation has no "id"`, { sampleId });
    }
    const where = `annotation ${annId} (image ${sampleId})`;
    const category = typeof ann.category_id === 'number' ? parsed.categoryById.get(ann.category_id) : undefined;
    if (!category) {
      return new SampleError(annFile, `${where}: category_id ${JSON.stringify(ann.category_id)} is not in "categories"`, { sampleId });
    }
    const crowd = ann.iscrowd ?? 0;
    if (crowd !== 0 && crowd !== 1 && crowd !== true && crowd !== false) {
      return new SampleError(annFile, `${where}: iscrowd must be 0 or 1, got ${JSON.stringify(crowd)}`, { sampleId });
    }
    const bbox = asBbox(ann.bbox);
    objects.push({
      id: String(annId),
      categoryId: category.id,
      category: category.name,
      isThing: category.isThing,
      // COCO: crowd regions are to be ignored; the engine keeps them out of the prompt.
      isCrowd: crowd === 1 || crowd === true,
      ...(bbox ? { bbox } : {}),
      annotation: ann,
      mask: () => decodeSegmentation(annFile, where, sampleId, ann.segmentation, height, width),
    });
  }
  return objects;
}

async function decodeSegmentation(
  annFile: string,
  where: string,
  sampleId: string,
  segmentation: unknown,
  height: number,
  width: number,
): Promise<Rle> {
  let rle: Rle;
  try {
    rle = rleFromSegmentation(segmentation, height, width);
  } catch (err) {
    throw new SampleError(annFile, `${where}: bad segmentation: ${describeError(err)}`, { sampleId, code: 'MASK_INVALID', cause: err });
  }
  if (rle.height !== height || rle.width !== width) {
    throw new SampleError(
      annFile,
      `${where}: mask is ${rle.width}x${rle.height} but the image record says ${width}x${height}`,
      { sampleId, code: 'MASK_SIZE_MISMATCH' },
    );
  }
  return rle;
}

function pickSources(all: readonly SplitSource[], prefer: AnnotationKind): Map<string, SplitSource> {
  const bySplit = new Map<string, SplitSource>();
  for (const s of all) {
    const have = bySplit.get(s.split);
    // Official annotations win over a same-named Roboflow folder; among official files the
    // preferred kind wins.
    if (!have || (have.layout === s.layout && have.kind !== prefer && s.kind === prefer)) bySplit.set(s.split, s);
  }
  return bySplit;
}

/**
 * COCO: the official layout (`annotations/instances_<split>.json` and/or
 * `annotations/panoptic_<split>.json` with images in `<split>/` or `images/<split>/`, PNGs in
 * `annotations/panoptic_<split>/`) and the Roboflow export (`<split>/_annotations.coco.json`
 * with the images beside it). The root may also be the folder that contains `coco/`.
 */
export function cocoPlugin(options: CocoPluginOptions = {}): DatasetPlugin {
  const prefer = options.prefer ?? 'instances';
  const maxJsonBytes = options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES;
  return {
    name: prefer === 'panoptic' ? 'coco-panoptic' : 'coco',
    version: VERSION,
    contract: PLUGIN_CONTRACT_VERSION,
    description:
      prefer === 'panoptic'
        ? 'COCO panoptic (annotations/panoptic_<split>.json + segment-id PNGs); falls back to instances'
        : 'COCO instances (official annotations/instances_<split>.json or Roboflow <split>/_annotations.coco.json); panoptic when a split has no instances file',
    async detect(root: string): Promise<boolean> {
      const found = await findCocoRoot(root);
      if (!found) return false;
      if (prefer === 'panoptic') return (await discoverSources(found)).some((s) => s.kind === 'panoptic');
      return true;
    },
    async open(root: string, openOptions: OpenOptions = {}): Promise<DatasetReader> {
      const found = await findCocoRoot(root);
      if (!found) {
        throw new ConfigError(
          `${root} is not a COCO dataset: expected annotations/instances_<split>.json, annotations/panoptic_<split>.json or <split>/_annotations.coco.json`,
        );
      }
      const sources = pickSources(await discoverSources(found), prefer);
      return new CocoReader(found, sources, openOptions.followSymlinks ?? false, maxJsonBytes);
    },
    export: cocoExportHook({ prefer, maxJsonBytes, pick: pickSources }),
  };
}

/** COCO panoptic first: the same reader, preferring `panoptic_<split>.json` where both exist. */
export function cocoPanopticPlugin(options: Omit<CocoPluginOptions, 'prefer'> = {}): DatasetPlugin {
  return cocoPlugin({ ...options, prefer: 'panoptic' });
}
