import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, SampleError } from '../errors.js';
import type { DatasetReader } from '../plugin/types.js';
import { acquireOutputLock, ShardWriteError, ShardWriter, writeManifest } from '../shards/index.js';
import { manifestFileName, removeStaleManifestTemps, type ManifestLostShard, type ManifestRunInfo } from '../shards/manifest.js';
import type { ShardFormat, WorkerSpec } from '../shards/index.js';
import type { FailureRecord } from '../shards/types.js';
import { combineListeners, type RunSummary } from './events.js';
import { createPipeline, imageFile, type PipelineInput, type PipelineOptions } from './pipeline.js';
import { OutputNames, relativeSourcePath } from './names.js';
import { DEFAULT_ENCODE, encodedExtension } from '../image/codec.js';
import { InputDigests } from './input-digest.js';
import { resolvePromptSelection } from './prompt.js';
import { SampleChecker } from './sample-check.js';
import { refuseChangedSettings } from './settings-guard.js';

export interface RunDatasetOptions extends PipelineOptions {
  readonly reader: DatasetReader;
  readonly outDir: string;
  /** Splits to protect (default: every split the reader has). */
  readonly splits?: readonly string[];
  /** Samples per shard, counted by input position (default 100). */
  readonly shardSize?: number;
  readonly format?: ShardFormat;
  /** Protect at most this many samples per split (a trial run). */
  readonly limit?: number;
  /** This process's slot when n workers share the run: it takes shards k with k % count === index. */
  readonly worker?: WorkerSpec;
  /** Stops after the shard in flight when aborted (SIGINT). */
  readonly signal?: AbortSignal;
  /**
   * What to record in the manifest about this run (its arguments). `verify` and `export` read
   * `plugin` (a built-in plugin's name), `pluginSource` (a third-party plugin's module path or
   * package name) and `input` (the dataset folder) from it; without them they need `--plugin`
   * and `--original`/`--against`.
   */
  readonly runInfo?: Readonly<Record<string, unknown>>;
}

export interface RunDatasetSummary extends RunSummary {
  readonly outDir: string;
  readonly failures: readonly FailureRecord[];
  /** True when the run stopped early on the signal; a rerun resumes it. */
  readonly interrupted: boolean;
  /**
   * Samples that shards completed by an earlier run record as failed: skipped now, still not
   * published, so a rerun that had nothing left to do has not published everything either.
   */
  readonly failedBefore: number;
}

/** The splits an earlier run into `outDir` recorded in its manifest (none when there is none). */
async function recordedSplits(outDir: string, worker: WorkerSpec | undefined): Promise<string[]> {
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(outDir, manifestFileName(worker)), 'utf8')) as { run?: { args?: { splits?: unknown } } };
    const splits = manifest.run?.args?.splits;
    return Array.isArray(splits) ? splits.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Protects a dataset into shards: for each split, the reader's samples in their deterministic
 * order, skipping positions whose shard is already complete (resume) or belongs to another
 * worker, through the pipeline, into the shard writer. Holds the output lock for the run.
 */
export async function runDataset(options: RunDatasetOptions): Promise<RunDatasetSummary> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const shardSize = options.shardSize ?? 100;
  const format = options.format ?? 'parquet';
  const { reader, outDir, worker, listener } = options;
  // Checked before the output folder is made, so that a mistyped split or category leaves nothing behind.
  const available = await reader.splits();
  const splits = options.splits ?? available;
  for (const split of splits) {
    if (!available.includes(split)) {
      throw new ConfigError(`split "${split}" not found in ${reader.root}; it has: ${available.join(', ') || 'none'}`);
    }
  }
  // The prompt as the pipeline matches it: entries made exact against the dataset's categories.
  let prompt = options.prompt;
  if (options.prompt?.kind === 'categories') {
    // A split whose annotations do not read fails on its own later, with its file named.
    const lists = await Promise.all(splits.map((s) => reader.categories(s).catch(() => [])));
    prompt = resolvePromptSelection(options.prompt, lists.flat(), reader.root);
  }
  const plugin = options.runInfo?.plugin;
  const samplesSource = typeof plugin === 'string' ? `plugin "${plugin}"` : `dataset ${reader.root}`;
  await fs.mkdir(outDir, { recursive: true });
  const lock = await acquireOutputLock(outDir, { worker });
  await removeStaleManifestTemps(outDir, { worker });
  const runRecord = {
    // `splits`: every split this folder's runs were asked for, so that verify can tell a split
    // left with no shard (a rerun for one split must not hide another's).
    args: { ...options.runInfo, splits: [...new Set([...(await recordedSplits(outDir, worker)), ...splits])], shardSize, format, limit: options.limit ?? null, worker: worker ?? null },
    noise: {
      source: options.noise.name,
      description: options.noise.description,
      settings: options.noise.settings ?? {},
      epsFg: options.budget.epsFg,
      epsBg: options.budget.epsBg,
      epsFgSteps: Math.round(options.budget.epsFg * 255 * 1000) / 1000,
      epsBgSteps: Math.round(options.budget.epsBg * 255 * 1000) / 1000,
      prompt: options.prompt ?? { kind: 'all' },
      encode: options.encode ?? { format: 'png' },
    },
    startedAt,
  };
  let published = 0;
  let failed = 0;
  let skipped = 0;
  let failedBefore = 0;
  let interrupted = false;
  const failures: FailureRecord[] = [];
  // The manifest is an index rebuilt from the shards' stats files at each commit, so a write that
  // fails for want of space loses nothing: the run goes on, the next commit writes it again, and
  // a rerun does too. Only a failure that no later write made good is reported.
  let manifestFailure: FailureRecord | undefined;
  // Shards that could not be written: no stats file records them, so the manifest lists them
  // from here until a rerun writes them.
  const lostShards: ManifestLostShard[] = [];
  const loseShard = (writer: ShardWriter, split: string, error: ShardWriteError): void => {
    if (lostShards.some((l) => l.split === split && l.file === error.file)) return;
    const positions = writer.shardRange(error.shardIndex);
    lostShards.push({ split, file: error.file, positions, code: error.code, reason: error.message });
    failures.push({ position: positions.start, split, id: undefined, file: error.file, code: error.code, reason: error.message });
  };
  const updateManifest = async (run: ManifestRunInfo): Promise<void> => {
    try {
      await writeManifest(outDir, { ...run, lostShards }, { worker });
      manifestFailure = undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code !== 'string' || !code.startsWith('E')) throw error;
      const file = path.join(outDir, manifestFileName(worker));
      const reason = `could not write ${file}: ${(error as Error).message}; the committed shards are intact, and a rerun writes it`;
      manifestFailure = { position: -1, split: '', id: undefined, file, code: 'MANIFEST_WRITE', reason };
    }
  };
  // Valid but unusual images (alpha, 16-bit, CMYK, grey, EXIF-rotated) are published; the user
  // is told how many were converted, by what.
  const conversions: Record<string, number> = {};
  const count = (what: string) => (conversions[what] = (conversions[what] ?? 0) + 1);
  const pipelineOptions: PipelineOptions = {
    ...options,
    prompt,
    listener: combineListeners(listener, {
      onConverted: (i) => {
        i.conversions.forEach(count);
        if (i.exifOrientation !== undefined && i.exifOrientation !== 1) count('EXIF orientation recorded, not applied');
      },
    }),
  };
  try {
    await refuseChangedSettings(outDir, worker, runRecord);
    for (const split of splits) {
      if (options.signal?.aborted) break;
      const digests = new InputDigests(reader.root);
      const writer = await ShardWriter.open({
        inputDigest: (shard) => digests.take(shard),
        outDir,
        split,
        shardSize,
        format,
        worker,
        onShardCommitted: async (stats) => {
          listener?.onShardWritten?.({ split, file: stats.file, rows: stats.rows, failures: stats.failures.length });
          await updateManifest(runRecord);
        },
      });
      let splitSkipped = 0;
      // Published records handed to the writer; those of a shard that failed to write are lost.
      let handedThisSplit = 0;
      const mine = (position: number) => !worker || writer.shardIndexOf(position) % worker.count === worker.index;
      // Stopping on the signal happens at a shard boundary, so every committed shard is whole.
      let lastShard = -1;
      // Samples handed to the pipeline, and outputs taken from it: equal when it holds no work.
      let handed = 0;
      let received = 0;
      // A shard completed by an earlier run is read again (not decoded) to check that the dataset
      // still holds what it was made from.
      const checkUnchanged = (shard: number) => {
        const stats = writer.completed.get(shard);
        failedBefore += stats?.failures.length ?? 0;
        const now = digests.take(shard);
        if (stats?.inputDigest && now !== stats.inputDigest) {
          throw new ConfigError(
            `the dataset ${reader.root} changed since ${stats.file} was written in ${outDir}: the samples of its positions ` +
              `[${stats.positions.start}, ${stats.positions.end}) differ now (ids, sizes, image files or annotations); ` +
              'resuming would mix two versions of the data: publish into a new folder, or delete this one to start again',
          );
        }
      };
      async function* inputs(): AsyncGenerator<PipelineInput> {
        let position = 0;
        let rereading: number | undefined;
        const checker = new SampleChecker(samplesSource, split);
        const names = new OutputNames();
        const extension = encodedExtension(options.encode ?? DEFAULT_ENCODE);
        for await (const raw of reader.samples(split)) {
          const p = position++;
          if (options.limit !== undefined && p >= options.limit) break;
          // Checked and named at every position, this worker's or not, so that a repeated id fails,
          // and a clashing name is renamed, in the same sample whatever the number of workers;
          // annotations (the costly part, which no other worker's result depends on) only where read.
          const shaped = checker.check(raw, p, { annotations: false });
          const outputName = shaped instanceof SampleError ? undefined : names.name(relativeSourcePath(imageFile(shaped), options.root), shaped.id, extension, p);
          if (!mine(p)) continue;
          const item = shaped instanceof SampleError ? shaped : checker.checkAnnotations(shaped, p);
          const shard = writer.shardIndexOf(p);
          if (rereading !== undefined && shard !== rereading) {
            checkUnchanged(rereading);
            rereading = undefined;
          }
          digests.add(shard, p, item);
          if (writer.isDone(p)) {
            rereading = shard;
            splitSkipped++;
            continue;
          }
          if (options.signal?.aborted && shard !== lastShard) {
            interrupted = true;
            return;
          }
          lastShard = shard;
          handed++;
          yield { position: p, split, item, ...(outputName !== undefined ? { outputName } : {}) };
        }
        if (rereading !== undefined) checkUnchanged(rereading);
      }
      listener?.onStart?.({ split, skipped: writer.completed.size * shardSize, noise: options.noise.name });
      // The pipeline reads ahead (decode concurrency, the noise source's batch), so when the signal
      // comes, samples of later shards may be under way already: they are dropped, not written, so
      // that only the shard in flight is finished (the rerun redoes the rest).
      let openShard: number | undefined;
      const outputs = createPipeline(pipelineOptions).run(inputs());
      try {
        for (;;) {
          // When every sample handed to the pipeline has come out and its shard is committed, the
          // pipeline is waiting on the reader: a stop need not wait for it (a reader stuck for
          // good would hold the stop back for ever). Work in flight is still finished.
          const next = await nextUnlessStopped(outputs.next(), options.signal, () => !writer.hasOpenShard && received === handed);
          if (next === STOPPED) {
            interrupted = true;
            // The pipeline may be waiting on the reader: it is left, not awaited.
            void outputs.return(undefined).catch(() => undefined);
            break;
          }
          if (next.done) break;
          received++;
          const output = next.value;
          const shard = writer.shardIndexOf(output.kind === 'published' ? output.record.position : output.failure.position);
          if (options.signal?.aborted && openShard !== undefined && shard !== openShard) {
            interrupted = true;
            break;
          }
          openShard = shard;
          try {
            if (output.kind === 'published') {
              const t0 = performance.now();
              handedThisSplit++;
              await writer.write(output.record);
              listener?.onStage?.({ stage: 'write', ms: performance.now() - t0, images: 1 });
            } else {
              // Counted before the writer is told: fail() may throw an earlier shard's write error.
              failures.push(output.failure);
              failed++;
              await writer.fail(output.failure);
            }
          } catch (error) {
            // A shard that cannot be written (disk full) is lost; completed shards are untouched.
            if (!(error instanceof ShardWriteError)) throw error;
            loseShard(writer, split, error);
          }
        }
        // After an interrupt the input stopped at a shard boundary, so the open shard is whole.
        try {
          await writer.finish();
        } catch (error) {
          // The last shard failing to write (disk full) fails that shard, as for any other shard.
          if (!(error instanceof ShardWriteError)) throw error;
          loseShard(writer, split, error);
        }
      } catch (error) {
        await writer.abort();
        // The pipeline stopped at a yield: ending it runs its cleanup (the reader's return()).
        await outputs.return(undefined).catch(() => undefined);
        throw error;
      }
      // A write can fail on two shards at once (the previous one's commit and this one's first
      // flush) and throw only one error: the writer remembers every shard it lost.
      for (const error of writer.failedShards.values()) loseShard(writer, split, error);
      // What was handed over and is in no committed shard was lost with its shard (the shard's
      // error is in `failures` and the manifest's lostShards).
      const committedRows = writer.committed.reduce((sum, s) => sum + s.rows, 0);
      published += committedRows;
      failed += handedThisSplit - committedRows;
      skipped += splitSkipped;
    }
    await updateManifest({ ...runRecord, endedAt: new Date().toISOString() });
    // A manifest write that failed and was not made good by a later one is the run's failure.
    if (manifestFailure) failures.push(manifestFailure);
  } finally {
    await lock.release();
  }
  const summary: RunDatasetSummary = {
    published,
    failed,
    skipped,
    seconds: (performance.now() - started) / 1000,
    outDir,
    failures,
    interrupted,
    failedBefore,
    conversions,
  };
  listener?.onEnd?.(summary);
  return summary;
}

const STOPPED = Symbol('stopped');

/**
 * The next output, or STOPPED once the signal is aborted at a moment `canStop` allows (checked
 * when it is aborted, and at once if it already was).
 */
async function nextUnlessStopped<T>(next: Promise<T>, signal: AbortSignal | undefined, canStop: () => boolean): Promise<T | typeof STOPPED> {
  if (!signal) return next;
  if (signal.aborted) return canStop() ? STOPPED : next;
  let onAbort = (): void => undefined;
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    onAbort = () => {
      if (canStop()) resolve(STOPPED);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([next, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
