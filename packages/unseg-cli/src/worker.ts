import { ConfigError, type WorkerSpec } from '@unseg/core';

/** Set in the environment of a `run --workers` worker: its stdin is the parent's pipe, and its end means the parent is gone. */
export const SUPERVISED_VARIABLE = 'UNSEG_SUPERVISED';

/**
 * This process's slot among n workers, from the flags or, when they are absent, from the
 * environment of an existing job runner: a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with
 * the count from --shard-count or UNSEG_SHARD_COUNT), an AWS Batch array job
 * (AWS_BATCH_JOB_ARRAY_INDEX / AWS_BATCH_JOB_ARRAY_SIZE), or Cloud Run jobs
 * (CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT). Undefined means a single worker.
 */
export function workerFromEnvironment(
  indexFlag: string | undefined,
  countFlag: string | undefined,
  env: NodeJS.ProcessEnv,
): WorkerSpec | undefined {
  const index =
    indexFlag ?? env.JOB_COMPLETION_INDEX ?? env.AWS_BATCH_JOB_ARRAY_INDEX ?? env.CLOUD_RUN_TASK_INDEX;
  const count = countFlag ?? env.UNSEG_SHARD_COUNT ?? env.AWS_BATCH_JOB_ARRAY_SIZE ?? env.CLOUD_RUN_TASK_COUNT;
  if (index === undefined && count === undefined) return undefined;
  if (index === undefined || count === undefined) {
    throw new ConfigError(
      `sharded run needs both an index and a count (got index ${index ?? 'none'}, count ${count ?? 'none'}); ` +
        'pass --shard-index and --shard-count',
    );
  }
  const i = Number(index);
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`shard count ${count}: expected a whole number >= 1`);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new ConfigError(`shard index ${index}: expected 0..${n - 1}`);
  return n === 1 ? undefined : { index: i, count: n };
}
