import { createHash, type Hash } from 'node:crypto';
import { ConfigError, UnsegError } from '../errors.js';
import { createShardEncoder, type ShardEncoder, type ShardFormat } from './encoders.js';
import { isTempOf, nodeShardFs, tempName, writeFileAtomic, type ShardFileHandle, type ShardFs } from './fs.js';
import { checkSplitName, checkWorker, shardFileName, statsFileName, workerTag, type WorkerSpec } from './naming.js';
import { huggingfaceMetadataJson, recordToRow, type ShardRow } from './schema.js';
import {
  findCompletedShards,
  NoiseAccumulator,
  toShardFailure,
  type ShardFailure,
  type ShardStats,
  type ShardVerification,
} from './stats.js';
import type { FailureRecord, PublishedRecord } from './types.js';

/**
 * Writing a shard failed (disk full, I/O error, an encoder error). The shard is discarded:
 * its temp file is removed and no stats are written, so a rerun writes it again. Shards
 * committed before are untouched.
 */
export class ShardWriteError extends UnsegError {
  readonly file: string;
  readonly shardIndex: number;
  constructor(file: string, shardIndex: number, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('SHARD_WRITE', `could not write shard ${file}: ${why}; the shard was discarded and will be written again on rerun`, { cause });
    this.file = file;
    this.shardIndex = shardIndex;
  }
}

/** Options of {@link ShardWriter.open}. */
export interface ShardWriterOptions {
  /** Output folder; created if missing. Hold an {@link acquireOutputLock} lock on it. */
  readonly outDir: string;
  readonly split: string;
  /** N: shard k covers input positions [k*N, (k+1)*N). */
  readonly shardSize: number;
  /** Default `parquet`. */
  readonly format?: ShardFormat;
  /** Set when this process is one worker of a sharded run; its files carry `-w{i}of{n}`. */
  readonly worker?: WorkerSpec;
  /** Extra key-value metadata written into every shard beside `huggingface` (e.g. `unseg` run info). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Rows buffered before they are written as one row group / record batch (default 100). */
  readonly rowGroupRows?: number;
  /** Image bytes buffered before a row group is written, whatever the row count (default 64 MiB). */
  readonly rowGroupBytes?: number;
  /** Arrow only: IPC `file` (default) or `stream` format. */
  readonly arrowIpc?: 'file' | 'stream';
  /** How resume checks committed shards (default `sha256`). */
  readonly verify?: ShardVerification;
  /** The digest of a shard's input samples, asked for when it is committed (ShardStats.inputDigest). */
  readonly inputDigest?: (shardIndex: number) => string | undefined;
  /** Called after each shard is committed (e.g. to rewrite the manifest). */
  readonly onShardCommitted?: (stats: ShardStats) => void | Promise<void>;
  /** File system; default Node's. Tests inject faults here. */
  readonly fs?: ShardFs;
}

interface OpenShard {
  readonly index: number;
  readonly file: string;
  readonly tmpPath: string;
  handle: ShardFileHandle | undefined;
  encoder: ShardEncoder | undefined;
  readonly hash: Hash;
  bytes: number;
  rows: number;
  readonly pending: ShardRow[];
  pendingBytes: number;
  readonly failures: ShardFailure[];
  readonly noise: NoiseAccumulator;
}

/**
 * Writes the published records and failures of one split into shards. Records and failures
 * must arrive in increasing position order; a shard is committed (temp file fsynced and
 * renamed, then its stats file written the same way) as soon as a position past its range
 * arrives, or at {@link ShardWriter.finish}.
 *
 * Positions whose shard is already complete (see {@link ShardWriter.isDone}) must not be sent;
 * the engine skips them before decoding anything.
 */
export class ShardWriter {
  /** Shards committed by earlier runs (resume) and by this one, by shard index. */
  readonly completed: Map<number, ShardStats>;
  /** Shards that failed to write in this run, with their error. */
  readonly failedShards = new Map<number, ShardWriteError>();
  /** Stats of the shards this writer committed, in order. */
  readonly committed: ShardStats[] = [];

  private readonly fs: ShardFs;
  private readonly format: ShardFormat;
  private readonly metadata: Record<string, string>;
  private readonly rowGroupRows: number;
  private readonly rowGroupBytes: number;
  private current: OpenShard | undefined;
  private lastPosition = -1;
  private closed = false;

  private constructor(
    private readonly options: ShardWriterOptions,
    completed: Map<number, ShardStats>,
  ) {
    this.fs = options.fs ?? nodeShardFs;
    this.format = options.format ?? 'parquet';
    this.completed = completed;
    this.metadata = { ...options.metadata, huggingface: huggingfaceMetadataJson() };
    this.rowGroupRows = options.rowGroupRows ?? 100;
    this.rowGroupBytes = options.rowGroupBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Opens a writer for one split: checks the options, creates the folder, finds the shards
   * already complete (resume), and removes what a killed run left behind for this split and
   * worker (temp files, data files without valid stats).
   */
  static async open(options: ShardWriterOptions): Promise<ShardWriter> {
    checkSplitName(options.split);
    checkWorker(options.worker);
    if (!Number.isInteger(options.shardSize) || options.shardSize < 1) {
      throw new ConfigError(`shard size must be a positive integer, got ${options.shardSize}`);
    }
    const fs = options.fs ?? nodeShardFs;
    const format = options.format ?? 'parquet';
    await fs.mkdir(options.outDir);
    const scan = await findCompletedShards({ ...options, fs, format });
    for (const f of [...scan.uncommitted, ...scan.invalid]) await fs.remove(`${options.outDir}/${f}`);
    const prefix = `${options.split}-`;
    const tag = workerTag(options.worker);
    for (const f of await fs.list(options.outDir)) {
      // Temp files of this split and worker only: other workers may be writing theirs now.
      const m = /^\.(.+?)\.\d+-[a-z0-9]+\.tmp$/.exec(f);
      if (m && m[1]!.startsWith(prefix) && isTempOf(f, m[1]!) && ownsName(m[1]!, options.split, tag)) {
        await fs.remove(`${options.outDir}/${f}`);
      }
    }
    return new ShardWriter(options, new Map(scan.completed));
  }

  /** Whether a shard has rows or failures handed to it and is not committed yet. */
  get hasOpenShard(): boolean {
    return this.current !== undefined;
  }

  /** The shard index of an input position. */
  shardIndexOf(position: number): number {
    return Math.floor(position / this.options.shardSize);
  }

  /** Whether the shard holding `position` is already complete, so the sample must be skipped. */
  isDone(position: number): boolean {
    return this.completed.has(this.shardIndexOf(position));
  }

  /** Positions [start, end) of shard `index`. */
  shardRange(index: number): { start: number; end: number } {
    return { start: index * this.options.shardSize, end: (index + 1) * this.options.shardSize };
  }

  /**
   * Adds a published record. Resolves once the record is buffered or written; rejects with a
   * {@link ShardWriteError} if its shard (or the shard it closed) could not be written.
   */
  async write(record: PublishedRecord): Promise<void> {
    const { shard, previousError } = await this.enter(record.position, record.split);
    if (shard !== undefined) {
      const row = recordToRow(record);
      await this.guard(shard, async () => {
        shard.pending.push(row);
        shard.pendingBytes += record.image.bytes.byteLength;
        shard.rows++;
        shard.noise.add(record.noise);
        if (shard.pending.length >= this.rowGroupRows || shard.pendingBytes >= this.rowGroupBytes) await this.flushRows(shard);
      });
    }
    await this.finishPosition(record.position, previousError);
  }

  /** Records a sample that could not be published; it is listed in its shard's stats. */
  async fail(failure: FailureRecord): Promise<void> {
    const { shard, previousError } = await this.enter(failure.position, failure.split);
    shard?.failures.push(toShardFailure(failure));
    await this.finishPosition(failure.position, previousError);
  }

  /** Commits the shard if `position` was its last, then reports the first error (the previous shard's, else this one's). */
  private async finishPosition(position: number, previousError: unknown): Promise<void> {
    let own: unknown;
    try {
      await this.commitIfLast(position);
    } catch (err) {
      own = err;
    }
    if (previousError) throw previousError;
    if (own) throw own;
  }

  /**
   * Commits the open shard as soon as its last position is in, not when the next shard's first
   * sample arrives: a reader that stalls (a slow or stuck plugin, a network mount) would otherwise
   * hold a finished shard in a temp file, lost to a hard stop.
   */
  private async commitIfLast(position: number): Promise<void> {
    const shard = this.current;
    if (!shard || position !== this.shardRange(shard.index).end - 1) return;
    this.current = undefined;
    await this.commit(shard);
  }

  /**
   * Commits the open shard (the input of the split is exhausted) and closes the writer.
   * Returns the stats of the shards committed by this writer.
   */
  async finish(): Promise<ShardStats[]> {
    this.assertOpen();
    this.closed = true;
    const shard = this.current;
    this.current = undefined;
    if (shard) await this.commit(shard);
    return this.committed;
  }

  /**
   * Discards the open shard (its temp file is removed; nothing is committed) and closes the
   * writer. For SIGINT or a fatal engine error: committed shards stay, a rerun redoes the rest.
   */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const shard = this.current;
    this.current = undefined;
    if (shard) await this.discard(shard);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('ShardWriter is closed');
  }

  /**
   * Moves to the shard of `position`, committing the previous one. The shard is undefined if
   * it failed earlier. A failed commit of the previous shard is returned, not thrown, so the
   * caller still files this sample in its own shard before reporting the error.
   */
  private async enter(position: number, split: string): Promise<{ shard: OpenShard | undefined; previousError?: unknown }> {
    this.assertOpen();
    if (split !== this.options.split) throw new Error(`ShardWriter for split "${this.options.split}" got a sample of split "${split}"`);
    if (!Number.isInteger(position) || position <= this.lastPosition) {
      throw new Error(`ShardWriter needs increasing positions: got ${position} after ${this.lastPosition}`);
    }
    const index = this.shardIndexOf(position);
    if (this.completed.has(index)) {
      throw new Error(`position ${position} belongs to shard ${index}, which is already complete: skip it (ShardWriter.isDone)`);
    }
    this.lastPosition = position;
    let previousError: unknown;
    if (this.current && this.current.index !== index) {
      const done = this.current;
      this.current = undefined;
      try {
        await this.commit(done);
      } catch (err) {
        previousError = err;
      }
    }
    if (this.failedShards.has(index)) return { shard: undefined, previousError };
    if (!this.current) this.current = this.newShard(index);
    return { shard: this.current, previousError };
  }

  private newShard(index: number): OpenShard {
    const file = shardFileName(this.options.split, index, this.format, this.options.worker);
    return {
      index,
      file,
      tmpPath: `${this.options.outDir}/${tempName(file)}`,
      handle: undefined,
      encoder: undefined,
      hash: createHash('sha256'),
      bytes: 0,
      rows: 0,
      pending: [],
      pendingBytes: 0,
      failures: [],
      noise: new NoiseAccumulator(),
    };
  }

  /** Runs `fn`; on error, discards the shard, remembers and rethrows a ShardWriteError. */
  private async guard<T>(shard: OpenShard, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = err instanceof ShardWriteError ? err : new ShardWriteError(shard.file, shard.index, err);
      this.failedShards.set(shard.index, e);
      if (this.current === shard) this.current = undefined;
      await this.discard(shard);
      throw e;
    }
  }

  private async ensureEncoder(shard: OpenShard): Promise<ShardEncoder> {
    if (shard.encoder) return shard.encoder;
    shard.handle = await this.fs.open(shard.tmpPath, { exclusive: true });
    const handle = shard.handle;
    shard.encoder = createShardEncoder(
      this.format,
      async (bytes) => {
        shard.hash.update(bytes);
        shard.bytes += bytes.byteLength;
        await handle.write(bytes);
      },
      { metadata: this.metadata, arrowIpc: this.options.arrowIpc },
    );
    return shard.encoder;
  }

  private async flushRows(shard: OpenShard): Promise<void> {
    const encoder = await this.ensureEncoder(shard);
    const rows = shard.pending.splice(0);
    shard.pendingBytes = 0;
    await encoder.writeRows(rows);
  }

  private async commit(shard: OpenShard): Promise<void> {
    const { outDir } = this.options;
    await this.guard(shard, async () => {
      await this.flushRows(shard);
      await shard.encoder!.finish();
      const handle = shard.handle!;
      shard.handle = undefined;
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(shard.tmpPath, `${outDir}/${shard.file}`);
      try {
        await this.fs.syncDir(outDir);
        const inputDigest = this.options.inputDigest?.(shard.index);
        const stats: ShardStats = {
          statsVersion: 1,
          file: shard.file,
          format: this.format,
          split: this.options.split,
          shardIndex: shard.index,
          shardSize: this.options.shardSize,
          worker: this.options.worker ? { index: this.options.worker.index, count: this.options.worker.count } : null,
          positions: this.shardRange(shard.index),
          rows: shard.rows,
          failures: shard.failures,
          bytes: shard.bytes,
          sha256: shard.hash.digest('hex'),
          noise: shard.noise.summary(),
          committedAt: new Date().toISOString(),
          ...(inputDigest ? { inputDigest } : {}),
        };
        await writeFileAtomic(this.fs, outDir, statsFileName(shard.file), new TextEncoder().encode(`${JSON.stringify(stats, null, 2)}\n`));
        this.completed.set(shard.index, stats);
        this.committed.push(stats);
      } catch (err) {
        // The data file is in place but uncommitted: remove it so no reader takes it for output.
        await this.fs.remove(`${outDir}/${shard.file}`).catch(() => undefined);
        throw err;
      }
    });
    const stats = this.completed.get(shard.index);
    if (stats && this.options.onShardCommitted) await this.options.onShardCommitted(stats);
  }

  private async discard(shard: OpenShard): Promise<void> {
    const handle = shard.handle;
    shard.handle = undefined;
    await handle?.close().catch(() => undefined);
    await this.fs.remove(shard.tmpPath).catch(() => undefined);
  }
}

function ownsName(dataFile: string, split: string, tag: string): boolean {
  const m = /^(.*)-\d{5,}(-w\d+of\d+)?\.(parquet|arrow)(\.stats\.json)?$/.exec(dataFile);
  return m !== null && m[1] === split && (m[2] ?? '') === tag;
}
