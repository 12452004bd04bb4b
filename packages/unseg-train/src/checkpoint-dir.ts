import { nodeShardFs } from '@unseg/core';
import { access, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * A checkpoint is a folder of files (weights, Adam moments, state.json with epoch and step)
 * that must change together: written in place, a crash in the middle leaves a state.json that
 * does not belong to the weights beside it. So it is written whole into `<dir>.next`, and only
 * then swapped in: `<dir>` -> `<dir>.previous`, `<dir>.next` -> `<dir>`, `<dir>.previous`
 * removed. At every moment one complete checkpoint exists under one of those names, and
 * `recoverCheckpoint` knows which from the names alone. The new folder's files are fsynced
 * before the swap and the parent folder after it, so the rename order also holds after a power
 * loss, not only after a killed process.
 */
export const nextOf = (dir: string): string => `${dir}.next`;
export const previousOf = (dir: string): string => `${dir}.previous`;

export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** Whether `dir` holds a checkpoint, under its own name or under the names a save cut short leaves. */
export async function checkpointExists(dir: string): Promise<boolean> {
  return (await Promise.all([dir, nextOf(dir), previousOf(dir)].map(exists))).some(Boolean);
}

/**
 * fsync where the platform allows it, through core's shard file system (the same call that makes
 * shard renames durable): it opens the path read-only, so it serves files and folders alike, and
 * tolerates the file systems that refuse it (the swap is then atomic but not durable).
 */
const syncPath = (p: string): Promise<void> => nodeShardFs.syncDir(p);

/** fsyncs every file under `dir`, then `dir` itself. */
export async function syncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await syncTree(p);
    else if (entry.isFile()) await syncPath(p);
  }
  await syncPath(dir);
}

/**
 * Writes a checkpoint with `write` (into a fresh folder it is given) and puts it in place of
 * `dir`. `beforeSwap` runs between the two renames (tests throw there to simulate a crash).
 */
export async function replaceCheckpoint(dir: string, write: (into: string) => Promise<void>, beforeSwap?: () => Promise<void> | void): Promise<void> {
  const next = nextOf(dir);
  const previous = previousOf(dir);
  await rm(next, { recursive: true, force: true });
  await write(next);
  await syncTree(next);
  // A rename cannot replace a non-empty folder: move the old one aside first, and drop it only
  // once the new one is in place.
  const hadOne = await exists(dir);
  if (hadOne) await rename(dir, previous);
  await beforeSwap?.();
  await rename(next, dir);
  await syncPath(path.dirname(dir));
  if (hadOne) await rm(previous, { recursive: true, force: true });
}

/**
 * Leaves `dir` holding the last complete checkpoint (or nothing) after a crash at any point of
 * replaceCheckpoint, and returns what it did (undefined when there was nothing to do).
 * - `dir` exists: it is complete (it only ever appears by a rename of a finished folder);
 *   a `.next` beside it is half-written, a `.previous` is the one it replaced.
 * - no `dir` but a `.previous`: the crash came between the renames, so `.next` is finished.
 * - neither: a `.next` alone is a first checkpoint that may be half-written; it is dropped.
 */
export async function recoverCheckpoint(dir: string): Promise<string | undefined> {
  const next = nextOf(dir);
  const previous = previousOf(dir);
  const [hasDir, hasNext, hasPrevious] = await Promise.all([exists(dir), exists(next), exists(previous)]);
  if (!hasNext && !hasPrevious) return undefined;
  if (hasDir) {
    await rm(next, { recursive: true, force: true });
    await rm(previous, { recursive: true, force: true });
    return hasNext ? `removed a half-written checkpoint (${next})` : `removed the replaced checkpoint ${previous}`;
  }
  if (hasPrevious && hasNext) {
    await rename(next, dir);
    await rm(previous, { recursive: true, force: true });
    return `completed the interrupted swap of ${next} into ${dir}`;
  }
  if (hasPrevious) {
    await rename(previous, dir);
    return `restored ${dir} from ${previous}`;
  }
  await rm(next, { recursive: true, force: true });
  return `removed a half-written first checkpoint (${next})`;
}
