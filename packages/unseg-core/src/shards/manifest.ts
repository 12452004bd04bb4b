import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { stableJson } from '../json.js';
import { comparableNoiseSettings } from '../noise/comparable.js';
import { isRecord } from '../plugin/validate.js';
import type { ShardFormat } from './encoders.js';
import { isTempOf, nodeShardFs, writeFileAtomic, type ShardFs } from './fs.js';
import { parseShardName, sameWorker, workerTag, type WorkerSpec } from './naming.js';
import { huggingfaceFeatures, shardSchemaSummary } from './schema.js';
import { mergeNoiseSummaries, readShardStats, type NoiseSummary, type ShardStats } from './stats.js';

/** What the caller knows about the run; stored as given. */
export interface ManifestRunInfo {
  /** The run's arguments (CLI options), as the caller wants them recorded. */
  readonly args?: unknown;
  /** Noise settings (source, eps, prompt, generator version...): opaque to the shard writer. */
  readonly noise?: unknown;
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** Shards of this run that could not be written (a full disk): no stats file records them. */
  readonly lostShards?: readonly ManifestLostShard[];
}

/** A shard the run could not write: its samples are in no shard; a rerun writes it. */
export interface ManifestLostShard {
  readonly split: string;
  readonly file: string;
  readonly positions: { readonly start: number; readonly end: number };
  readonly code: string;
  readonly reason: string;
}

/** One shard as listed in the manifest. */
export interface ManifestShard {
  readonly file: string;
  readonly split: string;
  readonly shardIndex: number;
  readonly worker: WorkerSpec | null;
  readonly positions: { readonly start: number; readonly end: number };
  readonly rows: number;
  readonly failures: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly noise: NoiseSummary;
}

/** One unpublished sample as listed in the manifest. */
export interface ManifestFailure {
  readonly split: string;
  readonly position: number;
  readonly id: string | null;
  readonly file: string;
  readonly code: string;
  readonly reason: string;
  /** The shard whose stats record it. */
  readonly shard: string;
}

/** Counts for one split or the whole output. */
export interface ManifestCounts {
  readonly rows: number;
  readonly failures: number;
  readonly shards: number;
  readonly bytes: number;
}

/** `manifest.json`: what an output folder holds, rebuilt from the per-shard stats files. */
export interface ShardManifest {
  readonly manifestVersion: 1;
  readonly versions: { readonly core: string; readonly node: string };
  readonly format: ShardFormat | null;
  readonly shardSize: number | null;
  /** The worker this manifest covers; null for a single run or a merged manifest. */
  readonly worker: WorkerSpec | null;
  /** For a merged manifest: the worker count and which workers had shards. */
  readonly workers: { readonly count: number; readonly present: readonly number[]; readonly missing: readonly number[] } | null;
  readonly run: { readonly args: unknown; readonly startedAt: string | null; readonly endedAt: string | null };
  readonly noise: unknown;
  readonly schema: { readonly columns: readonly { name: string; type: string }[]; readonly huggingface: Record<string, unknown> };
  readonly totals: ManifestCounts;
  readonly splits: Readonly<Record<string, ManifestCounts>>;
  readonly noiseSummary: NoiseSummary;
  readonly shards: readonly ManifestShard[];
  readonly failures: readonly ManifestFailure[];
  /** Shards the run could not write (see ManifestLostShard); empty when every shard was written. */
  readonly lostShards: readonly ManifestLostShard[];
}

let coreVersion: string | undefined;
async function readCoreVersion(): Promise<string> {
  if (coreVersion === undefined) {
    try {
      // src/shards and dist/shards are both two levels below the package root.
      const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
      coreVersion = pkg.version ?? 'unknown';
    } catch {
      coreVersion = 'unknown';
    }
  }
  return coreVersion;
}

/** The manifest file name: `manifest.json`, or `manifest-w{i}of{n}.json` for one worker of a sharded run. */
export function manifestFileName(worker?: WorkerSpec): string {
  return worker ? `manifest${workerTag(worker)}.json` : 'manifest.json';
}

/**
 * Removes the temp files that a killed run left while rewriting this run's (or worker's)
 * manifest. Only the holder of the output lock for `worker` writes that manifest, so any temp
 * of it found once the lock is held is stale.
 */
export async function removeStaleManifestTemps(outDir: string, options: { worker?: WorkerSpec; fs?: ShardFs } = {}): Promise<void> {
  const fs = options.fs ?? nodeShardFs;
  const name = manifestFileName(options.worker);
  for (const f of await fs.list(outDir)) if (isTempOf(f, name)) await fs.remove(`${outDir}/${f}`);
}

/** Reads every valid stats file in `dir` (all splits and workers). */
export async function readAllShardStats(dir: string, fs: ShardFs = nodeShardFs): Promise<ShardStats[]> {
  const out: ShardStats[] = [];
  for (const f of (await fs.list(dir)).sort()) {
    const p = parseShardName(f);
    if (!p?.isStats) continue;
    const s = await readShardStats(fs, `${dir}/${f}`);
    if (s && s.file === p.dataFile) out.push(s);
  }
  return out;
}

function counts(stats: readonly ShardStats[]): ManifestCounts {
  let rows = 0;
  let failures = 0;
  let bytes = 0;
  for (const s of stats) {
    rows += s.rows;
    failures += s.failures.length;
    bytes += s.bytes;
  }
  return { rows, failures, shards: stats.length, bytes };
}

/**
 * Builds a manifest from shard stats. Stats must all share one format and shard size; the
 * same (split, shard, worker) twice is an error, and so is mixing a single run's shards with
 * a sharded run's for the same split (the rows would be counted twice).
 */
export async function buildManifest(
  stats: readonly ShardStats[],
  run: ManifestRunInfo = {},
  scope: { worker?: WorkerSpec; merged?: boolean } = {},
): Promise<ShardManifest> {
  const sorted = [...stats].sort(
    (a, b) => a.split.localeCompare(b.split) || a.shardIndex - b.shardIndex || (a.worker?.index ?? -1) - (b.worker?.index ?? -1),
  );
  const formats = new Set(sorted.map((s) => s.format));
  const sizes = new Set(sorted.map((s) => s.shardSize));
  if (formats.size > 1 || sizes.size > 1) {
    throw new ConfigError(`shards mix formats (${[...formats].join(', ')}) or shard sizes (${[...sizes].join(', ')}); they do not form one dataset`);
  }
  const seen = new Set<string>();
  const modeBySplit = new Map<string, string>();
  const workerCounts = new Set<number>();
  for (const s of sorted) {
    if (seen.has(s.file)) throw new ConfigError(`shard ${s.file} is listed twice`);
    seen.add(s.file);
    const mode = s.worker ? `sharded run of ${s.worker.count}` : 'single run';
    const prev = modeBySplit.get(s.split);
    if (prev !== undefined && prev !== mode) {
      throw new ConfigError(`split "${s.split}" has shards of a ${prev} and of a ${mode} (e.g. ${s.file}); merge one layout at a time`);
    }
    modeBySplit.set(s.split, mode);
    if (s.worker) workerCounts.add(s.worker.count);
  }
  const splits: Record<string, ManifestCounts> = {};
  for (const split of [...new Set(sorted.map((s) => s.split))]) splits[split] = counts(sorted.filter((s) => s.split === split));
  let workers: ShardManifest['workers'] = null;
  if (scope.merged && workerCounts.size === 1) {
    const count = [...workerCounts][0]!;
    const present = [...new Set(sorted.flatMap((s) => (s.worker ? [s.worker.index] : [])))].sort((a, b) => a - b);
    workers = { count, present, missing: [...Array(count).keys()].filter((i) => !present.includes(i)) };
  }
  return {
    manifestVersion: 1,
    versions: { core: await readCoreVersion(), node: process.version },
    format: sorted[0]?.format ?? null,
    shardSize: sorted[0]?.shardSize ?? null,
    worker: scope.worker ? { index: scope.worker.index, count: scope.worker.count } : null,
    workers,
    run: { args: run.args ?? null, startedAt: run.startedAt ?? null, endedAt: run.endedAt ?? null },
    noise: run.noise ?? null,
    schema: { columns: shardSchemaSummary(), huggingface: huggingfaceFeatures() },
    totals: counts(sorted),
    splits,
    noiseSummary: mergeNoiseSummaries(sorted),
    shards: sorted.map((s) => ({
      file: s.file,
      split: s.split,
      shardIndex: s.shardIndex,
      worker: s.worker,
      positions: s.positions,
      rows: s.rows,
      failures: s.failures.length,
      bytes: s.bytes,
      sha256: s.sha256,
      noise: s.noise,
    })),
    failures: sorted.flatMap((s) => s.failures.map((f) => ({ split: s.split, ...f, shard: s.file }))),
    // A shard written since (a rerun, another worker's merge) is no longer lost.
    lostShards: (run.lostShards ?? []).filter((l) => !seen.has(l.file)),
  };
}

/**
 * Rewrites the manifest of `outDir` atomically from the stats files there: those of this
 * worker (`manifest-w{i}of{n}.json`) or of the single run (`manifest.json`). Call it after
 * each committed shard and at the end of the run (with `endedAt`).
 */
export async function writeManifest(
  outDir: string,
  run: ManifestRunInfo,
  options: { worker?: WorkerSpec; fs?: ShardFs } = {},
): Promise<ShardManifest> {
  const fs = options.fs ?? nodeShardFs;
  const stats = (await readAllShardStats(outDir, fs)).filter((s) => sameWorker(s.worker ?? undefined, options.worker));
  const manifest = await buildManifest(stats, run, { worker: options.worker });
  await writeFileAtomic(fs, outDir, manifestFileName(options.worker), manifestBytes(manifest));
  return manifest;
}

/**
 * Writes a manifest made elsewhere (merge-manifest's) as `outDir/manifest.json`, atomically and
 * synced, first removing what a killed earlier write of that file left behind.
 */
export async function writeManifestFile(outDir: string, manifest: ShardManifest, options: { fs?: ShardFs } = {}): Promise<void> {
  const fs = options.fs ?? nodeShardFs;
  await removeStaleManifestTemps(outDir, { fs });
  await writeFileAtomic(fs, outDir, manifestFileName(), manifestBytes(manifest));
}

function manifestBytes(manifest: ShardManifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
}

async function readJson(fs: ShardFs, path: string): Promise<unknown> {
  try {
    return JSON.parse(new TextDecoder().decode(await fs.readFile(path))) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Builds one manifest from the shards of several workers (for `unseg-pipeline merge-manifest`):
 * `sources` are output folders (all stats files in them are read) or stats objects. Run info
 * and noise settings come from `run`, else from the workers' own manifests, which must agree on
 * the noise settings: a dataset protected with two settings is not one dataset.
 */
export async function mergeManifests(
  sources: readonly (string | ShardStats)[],
  run: ManifestRunInfo = {},
  options: { fs?: ShardFs } = {},
): Promise<ShardManifest> {
  const fs = options.fs ?? nodeShardFs;
  const stats: ShardStats[] = [];
  const workerRuns: { file: string; m: Partial<ShardManifest> }[] = [];
  for (const src of sources) {
    if (typeof src !== 'string') {
      stats.push(src);
      continue;
    }
    stats.push(...(await readAllShardStats(src, fs)));
    for (const f of await fs.list(src)) {
      if (!/^manifest-w\d+of\d+\.json$/.test(f)) continue;
      const m = await readJson(fs, `${src}/${f}`);
      if (typeof m === 'object' && m !== null) workerRuns.push({ file: `${src}/${f}`, m: m as Partial<ShardManifest> });
    }
  }
  let noise = run.noise;
  if (noise === undefined && workerRuns.length > 0) {
    // Compared as a resume compares them: a worker on another backend or install path, with the
    // same generator weights, made the same noise.
    const comparable = (noise: unknown) => stableJson(isRecord(noise) ? { ...noise, settings: comparableNoiseSettings(noise.settings) } : noise ?? null);
    const first = comparable(workerRuns[0]!.m.noise);
    const other = workerRuns.find((w) => comparable(w.m.noise) !== first);
    if (other) throw new ConfigError(`workers disagree on noise settings: ${workerRuns[0]!.file} and ${other.file}`);
    noise = workerRuns[0]!.m.noise ?? undefined;
  }
  const starts = workerRuns.map((w) => w.m.run?.startedAt).filter((x): x is string => typeof x === 'string').sort();
  const ends = workerRuns.map((w) => w.m.run?.endedAt).filter((x): x is string => typeof x === 'string').sort();
  return buildManifest(
    stats,
    {
      args: run.args ?? workerRuns[0]?.m.run?.args,
      noise,
      startedAt: run.startedAt ?? starts[0],
      endedAt: run.endedAt ?? ends.at(-1),
      lostShards: run.lostShards ?? workerRuns.flatMap((w) => w.m.lostShards ?? []),
    },
    { merged: true },
  );
}
