import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { ShardFormat } from './encoders.js';
import type { ShardFs } from './fs.js';
import { parseShardName, sameWorker, type WorkerSpec } from './naming.js';
import type { FailureRecord, NoiseStats } from './types.js';

/** A sample that was not published, as recorded in its shard's stats. */
export interface ShardFailure {
  readonly position: number;
  readonly id: string | null;
  readonly file: string;
  readonly code: string;
  readonly reason: string;
}

/**
 * Noise statistics over a shard's rows. PSNR values are finite numbers or null: null means
 * no rows, or every row identical to its original (infinite PSNR), which JSON cannot hold.
 */
export interface NoiseSummary {
  readonly maxAbsFg: number | null;
  readonly maxAbsBg: number | null;
  readonly meanAbs: number | null;
  readonly minPsnr: number | null;
  readonly meanPromptFraction: number | null;
}

/**
 * The per-shard stats file `{data file}.stats.json`. It is written last, after the data file
 * is renamed into place: its presence (with a matching size and sha256) is what makes a shard
 * complete.
 */
export interface ShardStats {
  readonly statsVersion: 1;
  /** Data file name, relative to the output folder. */
  readonly file: string;
  readonly format: ShardFormat;
  readonly split: string;
  readonly shardIndex: number;
  readonly shardSize: number;
  readonly worker: WorkerSpec | null;
  /** The input positions this shard covers, [start, end). */
  readonly positions: { readonly start: number; readonly end: number };
  readonly rows: number;
  readonly failures: readonly ShardFailure[];
  readonly bytes: number;
  readonly sha256: string;
  readonly noise: NoiseSummary;
  readonly committedAt: string;
  /**
   * sha256 of the input samples the shard was made from (ids, sizes, image files, annotation
   * records; see the engine's InputDigests): a resumed run refuses a dataset that changed. Absent
   * in shards written before 2026-11-27 and by writers not given one.
   */
  readonly inputDigest?: string;
}

/** Incremental {@link NoiseSummary}. */
export class NoiseAccumulator {
  private n = 0;
  private fg = 0;
  private bg = 0;
  private meanSum = 0;
  private psnrMin = Infinity;
  private promptSum = 0;
  add(s: NoiseStats): void {
    this.n++;
    this.fg = Math.max(this.fg, s.maxAbsFg);
    this.bg = Math.max(this.bg, s.maxAbsBg);
    this.meanSum += s.meanAbs;
    this.psnrMin = Math.min(this.psnrMin, s.psnr);
    this.promptSum += s.promptFraction;
  }
  summary(): NoiseSummary {
    if (this.n === 0) return { maxAbsFg: null, maxAbsBg: null, meanAbs: null, minPsnr: null, meanPromptFraction: null };
    return {
      maxAbsFg: this.fg,
      maxAbsBg: this.bg,
      meanAbs: this.meanSum / this.n,
      minPsnr: Number.isFinite(this.psnrMin) ? this.psnrMin : null,
      meanPromptFraction: this.promptSum / this.n,
    };
  }
}

/** Combines shard summaries (weighted by rows) into one. */
export function mergeNoiseSummaries(parts: readonly { rows: number; noise: NoiseSummary }[]): NoiseSummary {
  let rows = 0;
  let fg: number | null = null;
  let bg: number | null = null;
  let meanSum = 0;
  let psnr: number | null = null;
  let promptSum = 0;
  for (const { rows: r, noise: s } of parts) {
    if (r === 0 || s.maxAbsFg === null) continue;
    rows += r;
    fg = Math.max(fg ?? 0, s.maxAbsFg);
    bg = Math.max(bg ?? 0, s.maxAbsBg ?? 0);
    meanSum += (s.meanAbs ?? 0) * r;
    promptSum += (s.meanPromptFraction ?? 0) * r;
    if (s.minPsnr !== null) psnr = psnr === null ? s.minPsnr : Math.min(psnr, s.minPsnr);
  }
  if (rows === 0) return { maxAbsFg: null, maxAbsBg: null, meanAbs: null, minPsnr: null, meanPromptFraction: null };
  return { maxAbsFg: fg, maxAbsBg: bg, meanAbs: meanSum / rows, minPsnr: psnr, meanPromptFraction: promptSum / rows };
}

/** The failure as stored in stats (no split: the shard has it). */
export function toShardFailure(f: FailureRecord): ShardFailure {
  return { position: f.position, id: f.id ?? null, file: f.file, code: f.code, reason: f.reason };
}

function isStats(v: unknown): v is ShardStats {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    s.statsVersion === 1 &&
    typeof s.file === 'string' &&
    (s.format === 'parquet' || s.format === 'arrow') &&
    typeof s.split === 'string' &&
    Number.isInteger(s.shardIndex) &&
    Number.isInteger(s.shardSize) &&
    Number.isInteger(s.rows) &&
    Number.isInteger(s.bytes) &&
    typeof s.sha256 === 'string' &&
    Array.isArray(s.failures)
  );
}

/** Reads and parses a stats file; undefined when it is missing, unreadable or malformed. */
export async function readShardStats(fs: ShardFs, path: string): Promise<ShardStats | undefined> {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(await fs.readFile(path)));
    return isStats(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** sha256 (hex) and size of a file, read in chunks. */
export async function hashFile(fs: ShardFs, path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.readChunks(path)) {
    h.update(chunk);
    bytes += chunk.byteLength;
  }
  return { sha256: h.digest('hex'), bytes };
}

/** How much {@link findCompletedShards} checks a data file against its stats. */
export type ShardVerification = 'sha256' | 'size';

/** What {@link findCompletedShards} found in an output folder for one split and worker. */
export interface ShardScan {
  /** Committed shards whose data file matches its stats, by shard index. */
  readonly completed: ReadonlyMap<number, ShardStats>;
  /** Data files with no valid stats (crash after rename, or a damaged file): not part of the output. */
  readonly uncommitted: readonly string[];
  /** Stats files that do not match their data file (missing, wrong size or checksum). */
  readonly invalid: readonly string[];
}

/**
 * Finds which shards of `split` (for this worker, or for a single run) are complete in
 * `outDir`: stats file present and parseable, data file present with the recorded size and,
 * with `verify: 'sha256'` (the default), the recorded checksum. The engine skips the
 * position ranges of those shards before decoding anything.
 *
 * Throws a ConfigError when the folder holds shards of this split written with another
 * shard size or format: resuming them would mix two layouts.
 */
export async function findCompletedShards(options: {
  readonly outDir: string;
  readonly split: string;
  readonly shardSize: number;
  readonly format: ShardFormat;
  readonly worker?: WorkerSpec;
  readonly fs: ShardFs;
  readonly verify?: ShardVerification;
}): Promise<ShardScan> {
  const { outDir, split, fs } = options;
  const files = await fs.list(outDir);
  const mine = files
    .map((f) => ({ f, p: parseShardName(f) }))
    .filter(({ p }) => p !== undefined && p.split === split && sameWorker(p.worker, options.worker));
  const completed = new Map<number, ShardStats>();
  const invalid: string[] = [];
  const fileSet = new Set(files);
  for (const { f, p } of mine) {
    if (!p!.isStats) continue;
    const stats = await readShardStats(fs, `${outDir}/${f}`);
    if (stats === undefined || stats.file !== p!.dataFile || stats.shardIndex !== p!.index) {
      invalid.push(f);
      continue;
    }
    if (stats.shardSize !== options.shardSize || stats.format !== options.format) {
      throw new ConfigError(
        `${outDir} already holds shards of split "${split}" written with --shard-size ${stats.shardSize} --format ${stats.format} ` +
          `(${f}); this run uses --shard-size ${options.shardSize} --format ${options.format}. Use the same settings to resume, or a new --out.`,
      );
    }
    if (!fileSet.has(stats.file) || !(await dataMatches(fs, `${outDir}/${stats.file}`, stats, options.verify ?? 'sha256'))) {
      invalid.push(f);
      continue;
    }
    completed.set(stats.shardIndex, stats);
  }
  const committedFiles = new Set([...completed.values()].map((s) => s.file));
  const uncommitted = mine.filter(({ f, p }) => !p!.isStats && !committedFiles.has(f)).map(({ f }) => f);
  return { completed, uncommitted, invalid };
}

async function dataMatches(fs: ShardFs, path: string, stats: ShardStats, verify: ShardVerification): Promise<boolean> {
  const size = await fs.size(path);
  if (size !== stats.bytes) return false;
  if (verify === 'size') return true;
  return (await hashFile(fs, path)).sha256 === stats.sha256;
}
