import { SampleError, UnsegError } from '../errors.js';
import { describeError } from '../plugin/validate.js';
import { decodeRgb, DEFAULT_ENCODE, encodeRgb, encodedExtension, type DecodeInfo, type EncodeOptions } from '../image/codec.js';
import type { RgbImage } from '../image/types.js';
import { rleArea, rleDecode, rleFromString, rleToBbox, rleToString, rleUnion } from '../masks/index.js';
import type { BinaryMask, Rle } from '../masks/types.js';
import { applyBudgetedNoise } from '../noise/apply.js';
import type { NoiseBudget, NoiseSource } from '../noise/types.js';
import { bytePool } from '../pixels/pool.js';
import type { Sample } from '../plugin/types.js';
import type { FailureRecord, PublishedObject, PublishedRecord } from '../shards/types.js';
import { paintCategoryLabels, type LabelledMask } from './labels.js';
import { inPrompt, type PromptSelection } from './prompt.js';
import { batches, mapOrdered } from './streams.js';
import { budgetViolation, measureNoise } from './verify.js';
import type { PipelineListener, PipelineStage } from './events.js';
import { outputImageName, relativeSourcePath } from './names.js';

export interface PipelineOptions {
  readonly noise: NoiseSource;
  readonly budget: NoiseBudget;
  /** Which objects get eps_fg (default: all non-crowd objects). */
  readonly prompt?: PromptSelection;
  /** How the protected image is published (default: lossless PNG). */
  readonly encode?: EncodeOptions;
  /** Images decoded or encoded at once; bounds memory together with the noise batch size. */
  readonly concurrency?: number;
  /** Refuse images above this many pixels (decompression bombs). */
  readonly limitInputPixels?: number;
  /** The dataset root, to record source paths relative to it. */
  readonly root?: string;
  readonly listener?: PipelineListener;
}

/** One input: a sample (or a reader's error in its place) at its position in the split's order. */
export interface PipelineInput {
  readonly position: number;
  readonly split: string;
  readonly item: Sample | SampleError;
  /** The published file name, when the caller has made names unique (runDataset does); else derived from the source path. */
  readonly outputName?: string;
}

export type PipelineOutput =
  | { readonly kind: 'published'; readonly record: PublishedRecord }
  | { readonly kind: 'failed'; readonly failure: FailureRecord };

interface Prepared {
  readonly input: PipelineInput;
  readonly sample: Sample;
  readonly image: RgbImage;
  readonly decodeInfo: DecodeInfo;
  readonly prompt: BinaryMask;
  readonly labels: Int32Array | undefined;
  readonly objects: PublishedObject[];
  readonly sourcePath: string;
}

type Stage<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: FailureRecord };

/**
 * The failure as recorded in the manifest. The file is made relative to the dataset root, so a
 * published manifest names files as the dataset does, not as the publisher's disk does.
 */
function failureOf(input: PipelineInput, error: unknown, fallbackFile: string, root: string | undefined): FailureRecord {
  const id = input.item instanceof SampleError ? input.item.sampleId : input.item.id;
  if (error instanceof SampleError) {
    const file = relativeSourcePath(error.file, root);
    return { position: input.position, split: input.split, id: error.sampleId ?? id, file, code: error.code, reason: error.reason };
  }
  const code = error instanceof UnsegError ? error.code : 'SAMPLE_FAILED';
  const reason = error instanceof Error ? error.message : String(error);
  return { position: input.position, split: input.split, id, file: relativeSourcePath(fallbackFile, root), code, reason };
}

/**
 * The mask as published, checked by decoding the string again: a mask that would not read back
 * exactly is a corrupt row, so the sample fails instead of being written.
 */
function publishedRle(rle: Rle, file: string, sampleId: string, objectId: string): string {
  const text = rleToString(rle);
  const back = rleFromString(text, rle.height, rle.width).counts;
  const same = back.length === rle.counts.length && back.every((c, i) => c === rle.counts[i]);
  if (!same) {
    throw new SampleError(file, `mask of object ${objectId} does not survive COCO RLE encoding (encoder fault)`, {
      sampleId,
      code: 'RLE_ROUNDTRIP',
    });
  }
  return text;
}

export function imageFile(sample: Sample): string {
  return sample.image.kind === 'file' ? sample.image.path : sample.image.name;
}

/**
 * The protection pipeline for one stream of samples: decode -> noise -> encode -> verify.
 * Codec stages run `concurrency` images at once on libuv's thread pool (sharp); the noise
 * source receives batches. Output order equals input order. A sample that cannot be decoded,
 * whose masks are malformed, or whose published bytes break the budget becomes a `failed`
 * output naming the file and the reason; the stream goes on.
 */
export function createPipeline(options: PipelineOptions): {
  run(inputs: AsyncIterable<PipelineInput>): AsyncGenerator<PipelineOutput>;
} {
  const concurrency = options.concurrency ?? 4;
  const prompt = options.prompt ?? { kind: 'all' };
  const encode = options.encode ?? DEFAULT_ENCODE;
  const noise = options.noise;
  const listener = options.listener;
  const onStage = listener?.onStage?.bind(listener);
  const timed = onStage && ((stage: PipelineStage, started: number, images = 1) => onStage({ stage, ms: performance.now() - started, images }));
  // Fresh multi-megabyte arrays cost more than the work done in them (page faults, GC), so the
  // per-image ones are reused. Protected pixels live from the noise stage until their encode
  // settles; prompt masks from decoding until the budget check. Capacities cover what is in
  // flight: `concurrency` images per codec stage and one noise batch between them.
  const batch = Math.max(1, noise.batchSize);
  const protectedPixels = bytePool(concurrency + batch);
  const promptMasks = bytePool(2 * concurrency + batch);

  async function prepare(input: PipelineInput): Promise<Stage<Prepared>> {
    const item = input.item;
    if (item instanceof SampleError) return { ok: false, failure: failureOf(input, item, item.file, options.root) };
    const file = imageFile(item);
    try {
      const t0 = performance.now();
      const decoded = await decodeRgb(item.image.kind === 'file' ? item.image.path : item.image.bytes, {
        limitInputPixels: options.limitInputPixels,
      }).catch((e: unknown) => {
        throw new SampleError(file, `cannot decode image: ${e instanceof Error ? e.message : String(e)}`, {
          sampleId: item.id,
          code: 'IMAGE_INVALID',
        });
      });
      timed?.('decode', t0);
      const t1 = performance.now();
      const image = decoded.image;
      if (image.width !== item.width || image.height !== item.height) {
        throw new SampleError(
          file,
          `image is ${image.width}x${image.height} but its annotation says ${item.width}x${item.height}`,
          { sampleId: item.id, code: 'SIZE_MISMATCH' },
        );
      }
      const promptRles: Rle[] = [];
      const objects: PublishedObject[] = [];
      const labelled: LabelledMask[] = [];
      for (const object of item.objects) {
        const rle = await object.mask();
        if (rle.width !== image.width || rle.height !== image.height) {
          throw new SampleError(
            file,
            `mask of object ${object.id} is ${rle.width}x${rle.height}, image is ${image.width}x${image.height}`,
            { sampleId: item.id, code: 'MASK_SIZE_MISMATCH' },
          );
        }
        if (inPrompt(object, prompt)) promptRles.push(rle);
        if (noise.needsLabels && !object.isCrowd) labelled.push({ rle, categoryId: object.categoryId });
        objects.push({
          id: object.id,
          categoryId: object.categoryId,
          category: object.category,
          isThing: object.isThing,
          isCrowd: object.isCrowd,
          bbox: rleToBbox(rle),
          area: rleArea(rle),
          rle: publishedRle(rle, file, item.id, object.id),
          annotation: JSON.stringify(object.annotation ?? null),
        });
      }
      const labels = noise.needsLabels ? paintCategoryLabels(labelled, image.width, image.height) : undefined;
      const promptMask = rleDecode(rleUnion(promptRles, image.height, image.width), promptMasks.take(image.width * image.height));
      timed?.('masks', t1);
      return {
        ok: true,
        value: {
          input,
          sample: item,
          image,
          decodeInfo: decoded.info,
          prompt: promptMask,
          labels,
          objects,
          sourcePath: relativeSourcePath(file, options.root),
        },
      };
    } catch (error) {
      return { ok: false, failure: failureOf(input, error, file, options.root) };
    }
  }

  async function addNoise(batch: Stage<Prepared>[]): Promise<Stage<{ prepared: Prepared; protectedImage: RgbImage }>[]> {
    const ready = batch.filter((s): s is { ok: true; value: Prepared } => s.ok);
    let directions: (Float32Array | { readonly error: unknown })[] = [];
    if (ready.length > 0) {
      const started = performance.now();
      const requests = ready.map((s) => ({ id: s.value.sample.id, image: s.value.image, prompt: s.value.prompt, labels: s.value.labels }));
      try {
        directions = await noise.generate(requests);
      } catch (batchError) {
        // One image the source cannot handle (a shape its network cannot take) must fail alone,
        // not the run: the batch is tried again one image at a time.
        directions = [];
        if (requests.length === 1) directions.push({ error: batchError });
        else {
          for (const request of requests) {
            try {
              directions.push(...(await noise.generate([request])));
            } catch (error) {
              directions.push({ error });
            }
          }
        }
      }
      listener?.onNoiseBatch?.({ images: ready.length, ms: performance.now() - started });
      timed?.('noise', started, ready.length);
    }
    let k = 0;
    const out = batch.map((s) => {
      if (!s.ok) return s;
      const direction = directions[k++];
      try {
        if (!direction) throw new Error(`noise source ${noise.name} returned no noise for this image`);
        if (!(direction instanceof Float32Array)) {
          throw new UnsegError('NOISE_FAILED', `noise source ${noise.name} failed on this image (${s.value.image.width}x${s.value.image.height}): ${describeError(direction.error)}`);
        }
        const t0 = performance.now();
        const { width, height } = s.value.image;
        const into = protectedPixels.take(width * height * 3);
        const protectedImage = applyBudgetedNoise(s.value.image, direction, s.value.prompt, options.budget, into);
        timed?.('apply', t0);
        return { ok: true as const, value: { prepared: s.value, protectedImage } };
      } catch (error) {
        return { ok: false as const, failure: failureOf(s.value.input, error, imageFile(s.value.sample), options.root) };
      }
    });
    // applyBudgetedNoise copied what it needed: the directions are never read again.
    const isMade = (d: Float32Array | { readonly error: unknown }): d is Float32Array => d instanceof Float32Array;
    // The source's own batch array when all of it came back (a source may recognise it).
    const made = directions.every(isMade) ? directions : directions.filter(isMade);
    if (made.length > 0) noise.release?.(made);
    return out;
  }

  async function publish(stage: Stage<{ prepared: Prepared; protectedImage: RgbImage }>): Promise<PipelineOutput> {
    if (!stage.ok) return { kind: 'failed', failure: stage.failure };
    const { prepared, protectedImage } = stage.value;
    const { sample, input } = prepared;
    const file = imageFile(sample);
    try {
      const t0 = performance.now();
      // Once the encoder is done with the pixels (or failed on them), nothing reads them again.
      const bytes = await encodeRgb(protectedImage, encode).finally(() => protectedPixels.give([protectedImage.data]));
      timed?.('encode', t0);
      const t1 = performance.now();
      // The budget is checked on what will be published: the encoded bytes, decoded again.
      const republished = (await decodeRgb(bytes)).image;
      const stats = measureNoise(prepared.image, republished, prepared.prompt);
      const violation = budgetViolation(stats, options.budget);
      timed?.('verify', t1);
      if (violation) {
        throw new SampleError(file, `published image breaks the noise budget: ${violation}`, {
          sampleId: sample.id,
          code: 'BUDGET_EXCEEDED',
        });
      }
      const { conversions, exifOrientation } = prepared.decodeInfo;
      if (conversions.length > 0 || (exifOrientation !== undefined && exifOrientation !== 1)) {
        listener?.onConverted?.({ split: input.split, position: input.position, id: sample.id, file, conversions, exifOrientation });
      }
      return {
        kind: 'published',
        record: {
          position: input.position,
          id: sample.id,
          split: input.split,
          width: protectedImage.width,
          height: protectedImage.height,
          image: { bytes, path: input.outputName ?? outputImageName(prepared.sourcePath, sample.id, encodedExtension(encode)) },
          sourcePath: prepared.sourcePath,
          objects: prepared.objects,
          noise: stats,
        },
      };
    } catch (error) {
      return { kind: 'failed', failure: failureOf(input, error, file, options.root) };
    } finally {
      promptMasks.give([prepared.prompt.data]);
    }
  }

  async function* run(inputs: AsyncIterable<PipelineInput>): AsyncGenerator<PipelineOutput> {
    const prepared = mapOrdered(inputs, prepare, concurrency);
    // A partial noise batch goes on after a second without input: a stalled reader must not hold
    // back images that are ready (and the shard they complete).
    const noised = mapOrdered(batches(prepared, batch, 1000), addNoise, 1);
    async function* flat() {
      for await (const batch of noised) yield* batch;
    }
    for await (const output of mapOrdered(flat(), publish, concurrency)) {
      if (output.kind === 'published') listener?.onPublished?.(output.record);
      else listener?.onFailed?.(output.failure);
      yield output;
    }
  }

  return { run };
}

/**
 * The library entry point for ETL jobs: protects a stream of samples and yields, in order, each
 * published record or failure. Positions are counted from 0 in the order given.
 */
export async function* protect(
  samples: AsyncIterable<Sample | SampleError>,
  options: PipelineOptions & { readonly split?: string },
): AsyncGenerator<PipelineOutput> {
  let position = 0;
  async function* inputs(): AsyncGenerator<PipelineInput> {
    for await (const item of samples) {
      const split = options.split ?? (item instanceof SampleError ? 'unknown' : item.split);
      yield { position: position++, split, item };
    }
  }
  yield* createPipeline(options).run(inputs());
}
