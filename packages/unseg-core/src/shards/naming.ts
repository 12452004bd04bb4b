import { ConfigError } from '../errors.js';
import type { ShardFormat } from './encoders.js';

/** One process of a sharded run (`--shard-index i --shard-count n`); index is 0-based. */
export interface WorkerSpec {
  readonly index: number;
  readonly count: number;
}

const SPLIT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Throws a ConfigError unless `split` is safe as part of a file name. Split names come from
 * dataset plugins, so a name like `../x` must never reach a path.
 */
export function checkSplitName(split: string): void {
  if (!SPLIT_RE.test(split) || split.length > 100) {
    throw new ConfigError(`split name ${JSON.stringify(split)} cannot be used in a shard file name (allowed: letters, digits, ".", "_", "-")`);
  }
}

/** Throws a ConfigError unless `worker` is a valid index/count pair. */
export function checkWorker(worker: WorkerSpec | undefined): void {
  if (worker === undefined) return;
  const { index, count } = worker;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
    throw new ConfigError(`invalid worker ${index} of ${count}: need 0 <= shard index < shard count`);
  }
}

/** `-w{i}of{n}` for a worker of a sharded run, empty otherwise. */
export function workerTag(worker: WorkerSpec | undefined): string {
  return worker ? `-w${worker.index}of${worker.count}` : '';
}

/** The data file name of shard `index` of a split: `train-00003.parquet`, `train-00003-w1of4.parquet`. */
export function shardFileName(split: string, index: number, format: ShardFormat, worker?: WorkerSpec): string {
  return `${split}-${String(index).padStart(5, '0')}${workerTag(worker)}.${format}`;
}

/** The stats (commit marker) file name of a data file. */
export function statsFileName(dataFile: string): string {
  return `${dataFile}.stats.json`;
}

/** What a shard file name says about its shard. */
export interface ParsedShardName {
  readonly split: string;
  readonly index: number;
  readonly worker: WorkerSpec | undefined;
  readonly format: ShardFormat;
  /** True for `{data}.stats.json`. */
  readonly isStats: boolean;
  /** The data file name (itself, or the one a stats file belongs to). */
  readonly dataFile: string;
}

const NAME_RE = /^([A-Za-z0-9][A-Za-z0-9._-]*?)-(\d{5,})(?:-w(\d+)of(\d+))?\.(parquet|arrow)(\.stats\.json)?$/;

/** Parses a data or stats file name made by {@link shardFileName}; undefined for any other file. */
export function parseShardName(file: string): ParsedShardName | undefined {
  const m = NAME_RE.exec(file);
  if (!m) return undefined;
  const [, split, idx, wi, wn, format, stats] = m;
  return {
    split: split!,
    index: Number(idx),
    worker: wi !== undefined && wn !== undefined ? { index: Number(wi), count: Number(wn) } : undefined,
    format: format as ShardFormat,
    isStats: stats !== undefined,
    dataFile: stats ? file.slice(0, -'.stats.json'.length) : file,
  };
}

/** Whether two worker specs name the same worker (both undefined = a single, unsharded run). */
export function sameWorker(a: WorkerSpec | undefined, b: WorkerSpec | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.index === b.index && a.count === b.count;
}
