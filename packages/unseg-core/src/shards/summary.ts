import { nodeShardFs, type ShardFs } from './fs.js';
import { buildManifest, readAllShardStats, type ManifestCounts, type ShardManifest } from './manifest.js';
import { parseShardName } from './naming.js';
import type { NoiseSummary } from './stats.js';

/** What `unseg-pipeline inspect <shards>` shows about an output folder. */
export interface ShardSummary {
  readonly dir: string;
  /** The manifests found (`manifest.json`, `manifest-w{i}of{n}.json`), by file name. */
  readonly manifests: Readonly<Record<string, ShardManifest>>;
  /** Committed shards, from their stats files. */
  readonly shards: readonly {
    readonly file: string;
    readonly split: string;
    readonly shardIndex: number;
    readonly worker: string | null;
    readonly rows: number;
    readonly failures: number;
    readonly bytes: number;
  }[];
  readonly totals: ManifestCounts;
  readonly splits: Readonly<Record<string, ManifestCounts>>;
  readonly failures: ShardManifest['failures'];
  readonly schema: ShardManifest['schema'];
  readonly noiseSummary: NoiseSummary;
  /** Noise settings recorded by the run(s) (from the manifests), null if none was found. */
  readonly noise: unknown;
  /** Data files without stats: not part of the output (a run was killed, or is still going). */
  readonly uncommitted: readonly string[];
  /** Problems found while reading (e.g. shards that do not form one dataset). */
  readonly problems: readonly string[];
}

/**
 * Summarises a shard folder from its stats files and manifests, without opening the data
 * files: which shards, rows and failures per split, the schema and the noise settings.
 */
export async function readShardSummary(dir: string, options: { fs?: ShardFs } = {}): Promise<ShardSummary> {
  const fs = options.fs ?? nodeShardFs;
  const files = await fs.list(dir);
  const stats = await readAllShardStats(dir, fs);
  const committed = new Set(stats.map((s) => s.file));
  const manifests: Record<string, ShardManifest> = {};
  for (const f of files.filter((x) => /^manifest(-w\d+of\d+)?\.json$/.test(x)).sort()) {
    try {
      manifests[f] = JSON.parse(new TextDecoder().decode(await fs.readFile(`${dir}/${f}`))) as ShardManifest;
    } catch {
      // Reported below as a problem rather than failing the whole summary.
    }
  }
  const problems: string[] = [];
  for (const f of files.filter((x) => /^manifest(-w\d+of\d+)?\.json$/.test(x))) {
    if (!(f in manifests)) problems.push(`${f} does not parse`);
  }
  let built: ShardManifest | undefined;
  try {
    built = await buildManifest(stats, {}, { merged: true });
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  const anyManifest = Object.values(manifests)[0];
  return {
    dir,
    manifests,
    shards: stats.map((s) => ({
      file: s.file,
      split: s.split,
      shardIndex: s.shardIndex,
      worker: s.worker ? `${s.worker.index}/${s.worker.count}` : null,
      rows: s.rows,
      failures: s.failures.length,
      bytes: s.bytes,
    })),
    totals: built?.totals ?? { rows: 0, failures: 0, shards: 0, bytes: 0 },
    splits: built?.splits ?? {},
    failures: built?.failures ?? [],
    schema: built?.schema ?? (anyManifest?.schema as ShardManifest['schema']),
    noiseSummary: built?.noiseSummary ?? { maxAbsFg: null, maxAbsBg: null, meanAbs: null, minPsnr: null, meanPromptFraction: null },
    noise: anyManifest?.noise ?? null,
    uncommitted: files.filter((f) => {
      const p = parseShardName(f);
      return p !== undefined && !p.isStats && !committed.has(f);
    }),
    problems,
  };
}
