import { existsSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SampleError, type DatasetReader, type Sample } from '@unseg/core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const fixtures = path.resolve(here, '../test-fixtures');
/** The repository root: packages/<pkg>/src/test-helpers -> four levels up. */
export const repoRoot = path.resolve(here, '../../../..');
/** CI keeps the real datasets beside the checkout, at ../shared/data. */
export const sharedData = path.resolve(repoRoot, '../shared/data');

export function sharedFolder(name: string): string | undefined {
  const p = path.join(sharedData, name);
  return existsSync(p) ? p : undefined;
}

export async function collect(reader: DatasetReader, split: string): Promise<(Sample | SampleError)[]> {
  const out: (Sample | SampleError)[] = [];
  for await (const s of reader.samples(split)) out.push(s);
  return out;
}

export function okSamples(items: readonly (Sample | SampleError)[]): Sample[] {
  return items.filter((s): s is Sample => !(s instanceof SampleError));
}

export function errors(items: readonly (Sample | SampleError)[]): SampleError[] {
  return items.filter((s): s is SampleError => s instanceof SampleError);
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(value));
}
