import { SampleError } from '../errors.js';
import type { DatasetReader, Sample } from '../plugin/index.js';

/** Every item of one split, samples and SampleErrors, in the reader's order. */
export async function collectSamples(reader: DatasetReader, split: string): Promise<(Sample | SampleError)[]> {
  const out: (Sample | SampleError)[] = [];
  for await (const s of reader.samples(split)) out.push(s);
  return out;
}

/** The samples of a collected list, errors left out. */
export function okSamples(items: readonly (Sample | SampleError)[]): Sample[] {
  return items.filter((s): s is Sample => !(s instanceof SampleError));
}

/** The SampleErrors of a collected list. */
export function sampleErrors(items: readonly (Sample | SampleError)[]): SampleError[] {
  return items.filter((s): s is SampleError => s instanceof SampleError);
}
