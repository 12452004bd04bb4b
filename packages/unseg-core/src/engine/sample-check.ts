import { SampleError } from '../errors.js';
import { StringFingerprints } from './fingerprints.js';
import type { Sample } from '../plugin/types.js';
import { isPositiveInt, isRecord } from '../plugin/validate.js';

/** A value as a short phrase for a message: its type, and the value when it is small. */
function shown(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v.length > 40 ? `string ${JSON.stringify(v.slice(0, 40))}...` : `string ${JSON.stringify(v)}`;
  if (typeof v === 'function') return 'a function';
  return `${typeof v} ${String(v)}`;
}

const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** What a sample breaks: its shape, or the rule that object ids are unique within it. */
export interface SampleContractProblem {
  readonly kind: 'shape' | 'repeated-object-id';
  readonly message: string;
}

const shape = (message: string): SampleContractProblem => ({ kind: 'shape', message });

/** What is wrong with one object of a sample, or undefined. */
function objectProblem(o: unknown, i: number, seen: Set<string>, annotations: boolean): SampleContractProblem | undefined {
  if (!isRecord(o)) return shape(`objects[${i}] is ${shown(o)}, not an object`);
  if (!nonEmptyString(o.id)) return shape(`objects[${i}].id must be a non-empty string, got ${shown(o.id)}`);
  const where = `object ${o.id}`;
  if (seen.has(o.id)) return { kind: 'repeated-object-id', message: `${where} appears twice in the sample (object ids are unique within a sample)` };
  seen.add(o.id);
  if (typeof o.categoryId !== 'number' || !Number.isInteger(o.categoryId)) return shape(`${where}: categoryId must be an integer, got ${shown(o.categoryId)}`);
  if (typeof o.category !== 'string') return shape(`${where}: category must be a string, got ${shown(o.category)}`);
  if (typeof o.isThing !== 'boolean') return shape(`${where}: isThing must be true or false, got ${shown(o.isThing)}`);
  if (typeof o.isCrowd !== 'boolean') return shape(`${where}: isCrowd must be true or false, got ${shown(o.isCrowd)}`);
  if (typeof o.mask !== 'function') return shape(`${where}: mask must be a function returning the mask, got ${shown(o.mask)}`);
  return annotations ? annotationProblem(o) : undefined;
}

/** Whether an object's annotation record stores as JSON: the costly part of the check. */
function annotationProblem(o: Record<string, unknown>): SampleContractProblem | undefined {
  try {
    // Stored in the shard as JSON text; a cycle or a BigInt would fail the whole shard there.
    JSON.stringify(o.annotation ?? null);
  } catch (err) {
    return shape(`object ${String(o.id)}: its annotation record cannot be stored as JSON (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  return undefined;
}

/**
 * What is wrong with a value a plugin yielded as a sample of `split` (its shape against the
 * Sample contract), or undefined. Shared by the engine and the plugin test harness.
 */
export function sampleContractProblem(item: unknown, split: string, options: { annotations?: boolean } = {}): SampleContractProblem | undefined {
  if (!isRecord(item)) return shape(`yielded ${shown(item)} where a sample (or a SampleError) belongs`);
  if (!nonEmptyString(item.id)) return shape(`a sample's id must be a non-empty string, got ${shown(item.id)}`);
  if (item.split !== split) return shape(`sample ${item.id} says split ${shown(item.split)} but was read for split "${split}"`);
  const image = item.image;
  const fileImage = isRecord(image) && image.kind === 'file' && nonEmptyString(image.path);
  const bytesImage = isRecord(image) && image.kind === 'bytes' && image.bytes instanceof Uint8Array && typeof image.name === 'string';
  if (!fileImage && !bytesImage) return shape(`sample ${item.id}: image must be { kind: 'file', path } or { kind: 'bytes', bytes, name }, got ${shown(image)}`);
  if (!isPositiveInt(item.width) || !isPositiveInt(item.height)) {
    return shape(`sample ${item.id}: width and height must be positive integers, got ${shown(item.width)} x ${shown(item.height)}`);
  }
  if (!Array.isArray(item.objects)) return shape(`sample ${item.id}: objects must be an array, got ${shown(item.objects)}`);
  const seen = new Set<string>();
  for (const [i, o] of item.objects.entries()) {
    const p = objectProblem(o, i, seen, options.annotations ?? true);
    if (p !== undefined) return { kind: p.kind, message: `sample ${item.id}: ${p.message}` };
  }
  return undefined;
}

/**
 * Checks what a plugin yields against the Sample contract before anything else reads it: a
 * malformed sample (a numeric id, a missing flag, a cyclic annotation) would otherwise fail far
 * from its cause, in the shard writer, taking the other samples of its shard with it, or stop
 * the run. It becomes a SampleError naming the plugin's source and what is wrong, and is recorded
 * as a failure like any other. Sample ids must be unique within a split (resume, sharding and
 * export find samples by id); a repeated id fails the later sample.
 */
export class SampleChecker {
  private readonly ids = new StringFingerprints();

  /** `source` names where samples come from in messages (the plugin, or the dataset folder). */
  constructor(
    private readonly source: string,
    private readonly split: string,
  ) {}

  /**
   * Checks that each object's annotation record stores as JSON: the costly part of the check,
   * for the samples a worker publishes, after `check(..., { annotations: false })`.
   */
  checkAnnotations(sample: Sample, position: number): Sample | SampleError {
    // The shape was checked by check(); only the records are left.
    for (const o of sample.objects) {
      const problem = annotationProblem(o as unknown as Record<string, unknown>);
      if (problem !== undefined) {
        return new SampleError(this.source, `position ${position} of split "${this.split}": sample ${sample.id}: ${problem.message}`, { sampleId: sample.id, code: 'SAMPLE_MALFORMED' });
      }
    }
    return sample;
  }

  /** `annotations: false` skips checking that annotation records store as JSON (see checkAnnotations). */
  check(item: unknown, position: number, options: { annotations?: boolean } = {}): Sample | SampleError {
    if (item instanceof SampleError) return item;
    const problem = sampleContractProblem(item, this.split, options);
    const id = isRecord(item) && nonEmptyString(item.id) ? item.id : undefined;
    if (problem !== undefined) {
      return new SampleError(this.source, `position ${position} of split "${this.split}": ${problem.message}`, { ...(id ? { sampleId: id } : {}), code: 'SAMPLE_MALFORMED' });
    }
    const sample = item as unknown as Sample;
    if (!this.ids.add(sample.id)) {
      return new SampleError(this.source, `position ${position} of split "${this.split}": sample id ${sample.id} was already used by an earlier sample of this split`, {
        sampleId: sample.id,
        code: 'DUPLICATE_SAMPLE_ID',
      });
    }
    return sample;
  }
}
