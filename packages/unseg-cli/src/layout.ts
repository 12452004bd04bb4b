import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, parseShardName, type WorkerSpec } from '@unseg/core';

/**
 * How an output folder's shards are named: by a single process (`train-00000.parquet`) or by
 * the workers of a sharded run of n (`train-00000-w0of2.parquet`). A run of another layout
 * would not see the shards already there as done: it would write every sample again under its
 * own names, beside them.
 */
export type OutputLayout = { readonly kind: 'single' } | { readonly kind: 'workers'; readonly count: number };

/** One layout found in a folder, with the files that show it: its shards, else its manifests. */
interface Found {
  readonly layout: OutputLayout;
  readonly shards: string[];
  readonly manifests: string[];
}

/** A merged manifest.json records the worker count even where no worker manifest is left. */
async function manifestWorkerCount(dir: string): Promise<number | undefined> {
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')) as { workers?: { count?: unknown } | null };
    const count = manifest.workers?.count;
    return typeof count === 'number' && Number.isInteger(count) && count > 1 ? count : undefined;
  } catch {
    // No manifest, or one the run itself will judge: the shard names decide.
    return undefined;
  }
}

/** The layouts whose files are in `dir`: none for a new or empty folder, two or more for a mixed one. */
export async function findOutputLayouts(dir: string): Promise<Found[]> {
  const files = (await fs.readdir(dir).catch(() => [] as string[])).sort();
  const byKey = new Map<string, Found>();
  const entry = (layout: OutputLayout): Found => {
    const key = layout.kind === 'single' ? 'single' : String(layout.count);
    if (!byKey.has(key)) byKey.set(key, { layout, shards: [], manifests: [] });
    return byKey.get(key)!;
  };
  // A folder of a large run holds hundreds of thousands of files: look names up, never scan.
  const present = new Set(files);
  for (const f of files) {
    const shard = parseShardName(f);
    const workerManifest = /^manifest-w\d+of(\d+)\.json$/.exec(f);
    // A data file and its stats file are one shard: the data file names it, when it is there.
    if (shard && !(shard.isStats && present.has(shard.dataFile))) entry(layoutOf(shard.worker)).shards.push(f);
    else if (workerManifest) entry({ kind: 'workers', count: Number(workerManifest[1]) }).manifests.push(f);
  }
  const merged = await manifestWorkerCount(dir);
  if (merged !== undefined) entry({ kind: 'workers', count: merged }).manifests.push('manifest.json');
  return [...byKey.values()];
}

function describe(found: Found): string {
  const who = found.layout.kind === 'single' ? 'a single process' : `${found.layout.count} workers`;
  const files = found.shards.length > 0 ? found.shards : found.manifests;
  return `${who} (${found.shards.length > 0 ? 'shards ' : ''}${files.slice(0, 2).join(', ')}${files.length > 2 ? ' ...' : ''})`;
}

const sameLayout = (a: OutputLayout, b: OutputLayout) => (a.kind === 'single' ? b.kind === 'single' : b.kind === 'workers' && a.count === b.count);

/** What to pass to resume a folder of `layout`, in the words of the command line. */
function howToResume(layout: OutputLayout): string {
  return layout.kind === 'single'
    ? 'rerun as a single process (without --workers, --shard-index or --shard-count)'
    : `rerun with --workers ${layout.count} (or, one process per worker, --shard-count ${layout.count})`;
}

/**
 * Refuses, before anything is written, an output folder whose shards another layout began:
 * `--workers 2` over a single-process folder, a single process over a `--workers 2` folder,
 * `--shard-count 3` over `--shard-count 2`. A folder that already holds two layouts is refused
 * whatever is asked: its shards overlap, and no rerun can make it one dataset.
 */
export async function checkOutputLayout(out: string, wanted: OutputLayout): Promise<void> {
  const found = await findOutputLayouts(out);
  if (found.length > 1) {
    throw new ConfigError(`${out} holds the output of more than one run layout, ${found.map(describe).join(' and ')}: its shards overlap; use another --out`);
  }
  const [begun] = found;
  if (begun && !sameLayout(begun.layout, wanted)) {
    throw new ConfigError(`${out} was written by ${describe(begun)}: ${howToResume(begun.layout)} to resume it, or use another --out`);
  }
}

/** The layout a run writes: its worker slot's count, or a single process. */
export function layoutOf(worker: WorkerSpec | undefined): OutputLayout {
  return worker ? { kind: 'workers', count: worker.count } : { kind: 'single' };
}
