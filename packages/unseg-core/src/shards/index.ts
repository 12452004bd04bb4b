/**
 * Shards: published records -> Parquet (or Arrow IPC) files of fixed position ranges, each
 * committed by a stats file, plus resume, the manifest, the output lock and `inspect`.
 */
export type { PublishedObject, PublishedRecord, NoiseStats, FailureRecord } from './types.js';
export { ShardWriter, ShardWriteError, type ShardWriterOptions } from './writer.js';
export { findCompletedShards, hashFile, readShardStats } from './stats.js';
export type { ShardStats, ShardFailure, NoiseSummary, ShardScan, ShardVerification } from './stats.js';
export { writeManifest, writeManifestFile, mergeManifests, buildManifest, readAllShardStats, manifestFileName } from './manifest.js';
export type { ShardManifest, ManifestRunInfo, ManifestShard, ManifestFailure, ManifestCounts, ManifestLostShard } from './manifest.js';
export { acquireLockFile, acquireOutputLock, lockFileName, type OutputLock, type LockInfo } from './lock.js';
export { readShardSummary, type ShardSummary } from './summary.js';
export { shardFileName, statsFileName, parseShardName, checkSplitName, type WorkerSpec, type ParsedShardName } from './naming.js';
export { nodeShardFs, writeFileAtomic, type ShardFs, type ShardFileHandle } from './fs.js';
export { SHARD_COLUMNS, huggingfaceFeatures, huggingfaceMetadataJson, shardSchemaSummary } from './schema.js';
export type { ShardColumn, ShardColumnType } from './schema.js';
export { createShardEncoder, parquetSchema, arrowSchema, type ShardFormat, type ShardEncoder, type ByteSink } from './encoders.js';
