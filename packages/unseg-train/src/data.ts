import type { DatasetReader, Rle, Sample } from '@unseg/core';
import { ConfigError, SampleChecker, SampleError } from '@unseg/core';
import { createHash } from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';

/**
 * Training data pre-decoded once at the working resolution: decoding a 1024x1024 JPEG and its
 * RLE masks every step would cost more than the training step itself on CPU.
 */
export interface TrainingSet {
  /** Square side of every image and mask (images are resized without keeping aspect). */
  readonly size: number;
  /** HWC, values in [0, 1]. */
  readonly images: Float32Array[];
  readonly ids: string[];
  /** Per image, its object masks (size*size, 0/1). Images without a usable object are dropped. */
  readonly masks: Uint8Array[][];
  /** Per image, a label map (0 = none, else categoryId + 1; the smaller object where they overlap, as the pipeline paints), when asked for. */
  readonly labels?: Uint8Array[];
  /** Samples that could not be read (bad image, bad annotation, bad mask), each with its file and reason. */
  readonly skipped?: SampleError[];
  /** Per image, its size before the resize (loadTrainingSet fills it): what a working-size pixel is worth when published. */
  readonly sourceSizes?: { readonly width: number; readonly height: number }[];
}

export interface LoadOptions {
  readonly size: number;
  /** Smallest object kept, as a fraction of the image (SA-1B has many tiny parts). */
  readonly minArea?: number;
  /** Largest object kept, as a fraction of the image (whole-image masks teach nothing). */
  readonly maxArea?: number;
  readonly maxImages?: number;
  /** Also build per-image label maps (for the sanity check's semantic segmentation). */
  readonly withLabels?: boolean;
  readonly log?: (line: string) => void;
  /** Stops reading once aborted; the set then holds what was read so far. */
  readonly signal?: AbortSignal;
}

/**
 * Area-downsamples a COCO-convention RLE (column-major runs starting with 0) to size x size;
 * a cell is 1 when at least half of it is covered. Also returns the covered fraction.
 */
export function rleToSquare(rle: Rle, size: number): { mask: Uint8Array; area: number } {
  const { height: h, width: w, counts } = rle;
  const acc = new Float32Array(size * size);
  let pos = 0;
  let ones = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (i % 2 === 1) {
      for (let j = pos; j < pos + n; j++) {
        const x = Math.floor(j / h), y = j - x * h;
        acc[Math.floor((y * size) / h) * size + Math.floor((x * size) / w)]! += 1;
      }
      ones += n;
    }
    pos += n;
  }
  const cell = (h / size) * (w / size);
  const mask = new Uint8Array(size * size);
  for (let i = 0; i < mask.length; i++) mask[i] = acc[i]! >= cell / 2 ? 1 : 0;
  return { mask, area: ones / (h * w) };
}

export async function decodeImageSquare(source: { kind: 'file'; path: string } | { kind: 'bytes'; bytes: Uint8Array }, root: string, size: number): Promise<Float32Array> {
  const input = source.kind === 'file' ? (path.isAbsolute(source.path) ? source.path : path.join(root, source.path)) : Buffer.from(source.bytes);
  const raw = await sharp(input).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer();
  const out = new Float32Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = raw[i]! / 255;
  return out;
}

/** Smallest object kept by default, as a fraction of the image. */
export const DEFAULT_MIN_AREA = 0.004;

/** One sample decoded at the working resolution; undefined when it has no usable object. */
interface Decoded {
  readonly image: Float32Array;
  readonly masks: Uint8Array[];
  readonly labels: Uint8Array | undefined;
}

/**
 * Decodes one sample. Whatever is wrong with it (an image sharp cannot read, a truncated RLE
 * string) comes out as a SampleError naming its file, so that the caller skips the sample
 * rather than the whole training run, as `run` does.
 */
async function decodeSample(sample: Sample, root: string, options: LoadOptions): Promise<Decoded | undefined> {
  const { size } = options;
  const minArea = options.minArea ?? DEFAULT_MIN_AREA;
  const maxArea = options.maxArea ?? 0.8;
  const masks: Uint8Array[] = [];
  const painted: { mask: Uint8Array; area: number; label: number }[] = [];
  for (const obj of sample.objects) {
    if (obj.isCrowd) continue;
    const rle = await obj.mask().catch((e: unknown) => {
      throw asSampleError(e, annotationFile(sample, root), sample.id, `mask of object ${obj.id}`);
    });
    const { mask, area } = rleToSquare(rle, size);
    painted.push({ mask, area, label: obj.categoryId + 1 });
    let on = 0;
    for (const v of mask) on += v;
    if (area >= minArea && area <= maxArea && on >= 4) masks.push(mask);
  }
  let labels: Uint8Array | undefined;
  if (options.withLabels) {
    // Where objects overlap the smaller one wins, as in the pipeline's label map
    // (paintCategoryLabels): class codes learned here are painted there.
    labels = new Uint8Array(size * size);
    for (const { mask, label } of painted.sort((a, b) => b.area - a.area)) for (let i = 0; i < mask.length; i++) if (mask[i]) labels[i] = label;
  }
  if (masks.length === 0) return undefined;
  const image = await decodeImageSquare(sample.image, root, size).catch((e: unknown) => {
    throw asSampleError(e, imageFile(sample, root), sample.id, 'cannot decode image');
  });
  return { image, masks, labels };
}

function imageFile(sample: Sample, root: string): string {
  if (sample.image.kind !== 'file') return sample.image.name;
  return path.isAbsolute(sample.image.path) ? sample.image.path : path.join(root, sample.image.path);
}

/** Where the plugin says the annotation came from (meta.annotationFile of sa1b), else the image. */
function annotationFile(sample: Sample, root: string): string {
  const file = sample.meta?.annotationFile;
  return typeof file === 'string' ? path.join(root, file) : imageFile(sample, root);
}

/** A plugin's own SampleError is kept (it names the file); anything else is wrapped with `file`. */
function asSampleError(e: unknown, file: string, sampleId: string, what: string): SampleError {
  if (e instanceof SampleError) return e;
  return new SampleError(file, `${what}: ${e instanceof Error ? e.message : String(e)}`, { sampleId, cause: e });
}

/**
 * Reads samples through any DatasetPlugin reader (sa1b, coco, ...) and pre-decodes them. A
 * sample that cannot be read, whether the reader yields it as a SampleError or it fails while
 * decoding, is skipped, logged with its file and reason, and listed in `skipped`.
 */
export async function loadTrainingSet(
  sources: readonly { reader: DatasetReader; split: string }[],
  options: LoadOptions,
): Promise<TrainingSet> {
  const { size } = options;
  const skipped: SampleError[] = [];
  const sourceSizes: { width: number; height: number }[] = [];
  const set: TrainingSet = { size, images: [], ids: [], masks: [], skipped, sourceSizes, ...(options.withLabels ? { labels: [] } : {}) };
  const skip = (error: SampleError) => {
    skipped.push(error);
    options.log?.(`skipped ${error.message}`);
  };
  let seen = 0;
  for (const { reader, split } of sources) {
    // The engine's own check of a sample's shape: a malformed one is skipped and named here too.
    const checker = new SampleChecker(`dataset ${reader.root}`, split);
    let position = 0;
    for await (const raw of reader.samples(split)) {
      if (options.signal?.aborted) break;
      if (options.maxImages !== undefined && set.images.length >= options.maxImages) break;
      seen++;
      const sample = checker.check(raw, position++);
      if (sample instanceof SampleError) {
        skip(sample);
        continue;
      }
      let decoded: Decoded | undefined;
      try {
        decoded = await decodeSample(sample, reader.root, options);
      } catch (error) {
        if (!(error instanceof SampleError)) throw error;
        skip(error);
        continue;
      }
      if (!decoded) continue;
      set.images.push(decoded.image);
      set.ids.push(`${split}/${sample.id}`);
      set.masks.push(decoded.masks);
      sourceSizes.push({ width: sample.width, height: sample.height });
      if (decoded.labels) set.labels!.push(decoded.labels);
    }
  }
  if (set.images.length === 0 && !options.signal?.aborted) {
    const where = sources.map((s) => `${s.reader.root}@${s.split}`).join(', ');
    const why = seen === 0 ? 'it yields no samples' : seen === skipped.length ? `all ${seen} skipped as unreadable (listed above)` : `${skipped.length} of ${seen} skipped as unreadable; the rest have no object of a usable size`;
    throw new ConfigError(`no usable training samples in ${where} (${why})`);
  }
  return set;
}

/**
 * sha256 of what training sees: every kept image's id, its pixels, its object masks and (when
 * loaded) its label map at the working size, in order. A resume compares it with the
 * checkpoint's, so that data changed under the same path (images repaired or replaced, masks
 * redrawn) is refused, and the same data at another path is accepted.
 */
export function trainingDataDigest(set: TrainingSet): string {
  const hash = createHash('sha256');
  hash.update(`${set.size}\n`);
  set.images.forEach((image, i) => {
    hash.update(`${set.ids[i]}\n`);
    hash.update(new Uint8Array(image.buffer, image.byteOffset, image.byteLength));
    const masks = set.masks[i]!;
    hash.update(`${masks.length}\n`);
    for (const m of masks) hash.update(m);
    // Only sets loaded withLabels have them, so the digests of generator checkpoints are unchanged.
    if (set.labels) hash.update(set.labels[i]!);
  });
  return hash.digest('hex');
}
