import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  ConfigError,
  hashFile,
  mergeManifests,
  nodeShardFs,
  parseShardName,
  readAllShardStats,
  statsFileName,
  type ShardManifest,
  type ShardStats,
  writeManifestFile,
} from '@unseg/core';

export interface MergeManifestOptions {
  out: string;
  json?: boolean;
  /** Where the report goes (default stdout); `run --workers` sends it to stderr, beside its progress stream. */
  write?: (text: string) => void;
}

/** How a shard reached the merged folder. */
type Placement = 'in place' | 'linked' | 'copied' | 'already there';

function isCode(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes(String((err as { code?: unknown }).code));
}

async function sameInode(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fs.stat(a), fs.stat(b)]);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * Puts `from` at `to` without a window in which `to` is partial: a hard link when both are on
 * one file system (free, and the shards of a large run are never duplicated), else a copy to
 * a temporary name then a rename.
 */
async function place(from: string, to: string): Promise<'linked' | 'copied'> {
  try {
    await fs.link(from, to);
    return 'linked';
  } catch (err) {
    // EXDEV: another file system; EPERM/ENOTSUP: links not allowed there (some network mounts).
    if (!isCode(err, 'EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK')) throw err;
  }
  const tmp = path.join(path.dirname(to), `.${path.basename(to)}.merge-${process.pid}.tmp`);
  try {
    await fs.copyFile(from, tmp, fsConstants.COPYFILE_EXCL);
    await fs.rename(tmp, to);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return 'copied';
}

/** True when `file` already holds exactly the shard `s` describes (a rerun of the same merge). */
async function holds(file: string, s: ShardStats, source: string): Promise<boolean> {
  if (await sameInode(file, source).catch(() => false)) return true;
  const size = await nodeShardFs.size(file);
  if (size !== s.bytes) return false;
  return (await hashFile(nodeShardFs, file)).sha256 === s.sha256;
}

/**
 * `unseg-pipeline merge-manifest <dirs...> --out <dir>`: one dataset from the output folders
 * of the workers of a sharded run. The merged folder is self-contained (shards, their stats
 * and `manifest.json` side by side) because every consumer (`verify`, `inspect`, DuckDB's
 * `read_parquet('out/*.parquet')`, Hugging Face `load_dataset`) reads shard names relative to
 * one folder. Shards are hard-linked when possible, so merging costs no disk space; workers
 * that wrote into one shared folder can merge in place (`--out` = that folder).
 *
 * Exit status: 0 merged and complete; 2 merged, but workers are missing or did not finish
 * (the manifest says which); 1 on an error (nothing is written then, except shards already
 * placed, which a rerun accepts).
 */
export async function mergeManifestCommand(dirs: readonly string[], o: MergeManifestOptions): Promise<number> {
  if (dirs.length === 0) throw new ConfigError('merge-manifest needs at least one worker output folder');
  const out = path.resolve(o.out);
  const sources = [...new Set(dirs.map((d) => path.resolve(d)))];
  for (const dir of sources) {
    const st = await fs.stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new ConfigError(`${dir} is not a folder`);
  }
  const bySource = new Map<string, ShardStats[]>();
  for (const dir of sources) bySource.set(dir, await readAllShardStats(dir));
  const all = [...bySource.values()].flat();
  if (all.length === 0) throw new ConfigError(`no committed shards in ${sources.join(', ')} (a shard counts once its .stats.json exists)`);

  // Validates before anything is placed: one format and shard size, no shard twice, one
  // worker layout per split, and the same noise settings in every worker's manifest.
  const draft = await mergeManifests(sources);

  // A shard is only trusted if the bytes its stats describe are there; the size check is
  // cheap, the full sha256 check is `unseg-pipeline verify`'s job.
  for (const [dir, stats] of bySource) {
    for (const s of stats) {
      const size = await nodeShardFs.size(path.join(dir, s.file));
      if (size !== s.bytes) {
        throw new ConfigError(`${path.join(dir, s.file)} is ${size === undefined ? 'missing' : `${size} bytes`}, its stats file says ${s.bytes}`);
      }
    }
  }

  await fs.mkdir(out, { recursive: true });
  // Shards already in --out that are not part of this merge would be read by every glob
  // reader but be missing from the manifest.
  if (!bySource.has(out)) {
    const incoming = new Set(all.map((s) => s.file));
    const strangers = (await readAllShardStats(out)).filter((s) => !incoming.has(s.file)).map((s) => s.file);
    if (strangers.length > 0) {
      throw new ConfigError(`${out} already holds shards that are not being merged (${strangers.slice(0, 3).join(', ')}${strangers.length > 3 ? ', ...' : ''}): use an empty --out folder`);
    }
  }

  const placed: Record<Placement, number> = { 'in place': 0, linked: 0, copied: 0, 'already there': 0 };
  for (const [dir, stats] of bySource) {
    for (const s of stats) {
      if (dir === out) {
        placed['in place']++;
        continue;
      }
      const from = path.join(dir, s.file);
      const to = path.join(out, s.file);
      // The stats file is the commit marker: it goes last, so an interrupted merge never
      // leaves a shard that looks complete but is not.
      const statsTo = path.join(out, statsFileName(s.file));
      if (await nodeShardFs.size(to) !== undefined) {
        if (!(await holds(to, s, from))) throw new ConfigError(`${to} exists and differs from ${from}: use an empty --out folder`);
        placed['already there']++;
      } else {
        placed[await place(from, to)]++;
      }
      await fs.rm(statsTo, { force: true });
      await place(path.join(dir, statsFileName(s.file)), statsTo);
    }
  }

  const { workers, problems } = await checkWorkers(sources, draft);
  const manifest: ShardManifest = {
    ...draft,
    workers,
    run: {
      ...draft.run,
      // The first worker's arguments, minus its own slot: the merged folder is the whole run.
      args: withoutWorker(draft.run.args, workers?.count ?? null, sources),
    },
  };
  await writeManifestFile(out, manifest);

  const write = o.write ?? ((text: string) => process.stdout.write(text));
  if (o.json) {
    write(`${JSON.stringify({ out, totals: manifest.totals, workers: manifest.workers, placed, problems }, null, 2)}\n`);
  } else {
    const w = manifest.workers;
    const line = (s: string) => write(`${s}\n`);
    line(`merged ${sources.length} folder(s) into ${out}: ${manifest.totals.shards} shards, ${manifest.totals.rows} rows, ${manifest.totals.failures} failures`);
    if (w) line(`workers: ${w.present.length} of ${w.count} present${w.missing.length > 0 ? `, missing: ${w.missing.join(', ')}` : ''}`);
    line(`shards: ${Object.entries(placed).filter(([, n]) => n > 0).map(([how, n]) => `${n} ${how}`).join(', ')}`);
    for (const p of problems) line(`incomplete: ${p}`);
    line(`manifest: ${path.join(out, 'manifest.json')}`);
  }
  return problems.length > 0 ? 2 : 0;
}

function withoutWorker(args: unknown, count: number | null, sources: readonly string[]): unknown {
  const base = typeof args === 'object' && args !== null ? (args as Record<string, unknown>) : {};
  return { ...base, worker: null, shardCount: count, mergedFrom: sources };
}

/**
 * Which workers took part and why the merged dataset may be incomplete. A worker counts as
 * present when it left shards or a finished manifest: with more workers than shards, some
 * finish with nothing to write. Missing workers, and workers whose manifest has no end time
 * (killed, or still running; rerunning one resumes it), make the dataset incomplete.
 */
async function checkWorkers(
  sources: readonly string[],
  merged: ShardManifest,
): Promise<{ workers: ShardManifest['workers']; problems: string[] }> {
  const problems: string[] = [];
  const finished = new Set<number>();
  let count = merged.workers?.count ?? null;
  for (const dir of sources) {
    const files = (await fs.readdir(dir)).sort();
    for (const f of files) {
      const m = /^manifest-w(\d+)of(\d+)\.json$/.exec(f);
      if (!m) continue;
      const [index, n] = [Number(m[1]), Number(m[2])];
      if (count !== null && n !== count) throw new ConfigError(`${path.join(dir, f)} is a worker of ${n}, the shards are of a run of ${count}`);
      count = n;
      let endedAt: unknown;
      try {
        endedAt = (JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as { run?: { endedAt?: unknown } }).run?.endedAt;
      } catch {
        endedAt = undefined;
      }
      if (typeof endedAt === 'string') finished.add(index);
      else problems.push(`${path.join(dir, f)}: worker ${index} did not finish (rerun it with the same arguments; it resumes)`);
    }
    // A data file without stats is a shard that a worker was still writing.
    const committed = new Set((await readAllShardStats(dir)).map((s) => s.file));
    for (const f of files) {
      const p = parseShardName(f);
      if (p && !p.isStats && !committed.has(f)) problems.push(`${path.join(dir, f)} has no stats file (not committed)`);
    }
  }
  if (count === null) return { workers: merged.workers, problems };
  const present = [...new Set([...(merged.workers?.present ?? []), ...finished])].sort((a, b) => a - b);
  const missing = [...Array(count).keys()].filter((i) => !present.includes(i));
  if (missing.length > 0) problems.unshift(`nothing from worker(s) ${missing.join(', ')} of ${count}`);
  return { workers: { count, present, missing }, problems };
}
