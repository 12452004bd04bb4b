import { ConfigError, SampleError } from '../errors.js';
import { readShardRows } from '../export/rows.js';
import type { ExportRow } from '../export/types.js';
import { decodeRgb } from '../image/codec.js';
import type { RgbImage } from '../image/types.js';
import { rleDecode, rleFromString, rleToString, rleUnion } from '../masks/index.js';
import type { Rle } from '../masks/types.js';
import type { NoiseBudget } from '../noise/types.js';
import type { Category, DatasetReader, Sample } from '../plugin/types.js';
import { inPrompt, resolvePromptSelection, type PromptSelection } from '../engine/prompt.js';
import { budgetViolation, measureNoise } from '../engine/verify.js';
import { nodeShardFs } from '../shards/fs.js';
import { parseShardName } from '../shards/naming.js';
import { hashFile, readShardStats, type ShardStats } from '../shards/stats.js';

/** One thing wrong with a shard folder, as `verify` reports it. */
export interface VerifyProblem {
  /** The shard, stats or manifest file concerned (relative to the folder). */
  readonly file: string;
  readonly split?: string;
  readonly position?: number;
  readonly id?: string;
  /** Stable kind, for programs: MISSING_STATS, SHA256, ROWS, BUDGET, PIXELS, ... */
  readonly kind: string;
  readonly message: string;
}

export interface VerifyShardRow {
  readonly file: string;
  readonly rows: number;
  readonly statsRows: number | null;
  readonly manifestRows: number | null;
  readonly checked: number;
  readonly maxAbsFg: number;
  readonly maxAbsBg: number;
  readonly problems: number;
}

export interface VerifyReport {
  readonly dir: string;
  readonly budget: NoiseBudget;
  readonly shards: readonly VerifyShardRow[];
  readonly problems: readonly VerifyProblem[];
  /** Published images whose pixels were compared with their original. */
  readonly imagesChecked: number;
  /**
   * Samples the run recorded as failed (manifest totals): not problems of the folder, which holds
   * every one of them in its failure list, but images the published copy lacks.
   */
  readonly failedSamples: number;
}

export interface VerifyOptions {
  /** The output folder of a run. */
  readonly dir: string;
  /** The original dataset, opened with the plugin the run used. */
  readonly reader: DatasetReader;
  /** Default: the budget recorded in manifest.json, for each region not given here. */
  readonly budget?: Partial<NoiseBudget>;
  /** Default: the prompt recorded in manifest.json (all non-crowd objects when absent). */
  readonly prompt?: PromptSelection;
  readonly limitInputPixels?: number;
}

interface ManifestLike {
  run?: { endedAt?: string | null; args?: { limit?: number | null; splits?: unknown } };
  lostShards?: { split?: string; file?: string; reason?: string }[];
  shards?: { file?: string; rows?: number; sha256?: string; bytes?: number }[];
  totals?: { rows?: number; failures?: number };
  noise?: { source?: string; epsFg?: number; epsBg?: number; prompt?: PromptSelection };
}

/**
 * Checks a run's output folder before it is published: every shard against its stats file and
 * the manifest (presence, size, sha256, row counts), and every published image against its
 * original from the dataset: same size, masks identical to the dataset's, and the change per
 * region within the budget, measured again here on the re-decoded published bytes with the
 * prompt rebuilt from the original masks (so a tampered `rle` cannot widen the foreground).
 */
export async function verifyShards(options: VerifyOptions): Promise<VerifyReport> {
  const { dir, reader } = options;
  const fs = nodeShardFs;
  const names = (await fs.list(dir)).sort();
  if (names.length === 0) throw new ConfigError(`${dir} is empty or does not exist: nothing to verify`);
  const problems: VerifyProblem[] = [];
  const problem = (p: VerifyProblem) => problems.push(p);

  let manifest: ManifestLike | undefined;
  // A large run's folder holds hundreds of thousands of files: look names up, never scan.
  const present = new Set(names);
  if (present.has('manifest.json')) {
    try {
      manifest = JSON.parse(new TextDecoder().decode(await fs.readFile(`${dir}/manifest.json`))) as ManifestLike;
    } catch (err) {
      problem({ file: 'manifest.json', kind: 'MANIFEST', message: `does not parse: ${(err as Error).message}` });
    }
  } else {
    problem({ file: 'manifest.json', kind: 'MANIFEST', message: 'missing' });
  }
  for (const lost of manifest?.lostShards ?? []) {
    problem({ file: String(lost.file), split: lost.split, kind: 'LOST_SHARD', message: `the run could not write this shard (${String(lost.reason)}): rerun the same command to write it` });
  }
  if (manifest?.run && !manifest.run.endedAt) {
    problem({ file: 'manifest.json', kind: 'UNFINISHED', message: 'the run has not finished (no endedAt): it was stopped or is still running; rerun the same command to complete it' });
  }
  const epsFg = options.budget?.epsFg ?? manifest?.noise?.epsFg;
  const epsBg = options.budget?.epsBg ?? manifest?.noise?.epsBg;
  if (epsFg === undefined || epsBg === undefined) throw new ConfigError(`${dir}/manifest.json records no noise budget: pass one (--eps-fg, --eps-bg)`);
  const budget: NoiseBudget = { epsFg, epsBg };
  const prompt: PromptSelection = options.prompt ?? manifest?.noise?.prompt ?? { kind: 'all' };
  const inManifest = new Map((manifest?.shards ?? []).map((s) => [String(s.file), s]));

  const dataFiles = names.filter((n) => {
    const p = parseShardName(n);
    return p !== undefined && !p.isStats;
  });
  const dataFileSet = new Set(dataFiles);
  for (const n of names) {
    const p = parseShardName(n);
    if (p?.isStats && !present.has(p.dataFile)) {
      problem({ file: n, split: p.split, kind: 'MISSING_DATA', message: `stats file for ${p.dataFile}, which is missing` });
    }
  }
  for (const f of inManifest.keys()) {
    if (!dataFileSet.has(f)) problem({ file: 'manifest.json', kind: 'MISSING_DATA', message: `lists ${f}, which is missing` });
  }

  // Rows to compare with originals, by split and position.
  const wanted = new Map<string, Map<number, { file: string; row: ExportRow }>>();
  // Positions whose failure a shard recorded: with the rows, what the run accounts for.
  const failedAt = new Map<string, Set<number>>();
  const shardRows = new Map<string, VerifyShardRow & { problems: number; checked: number; maxAbsFg: number; maxAbsBg: number }>();
  let totalRows = 0;
  for (const file of dataFiles) {
    const parsed = parseShardName(file)!;
    const before = problems.length;
    const stats: ShardStats | undefined = present.has(`${file}.stats.json`) ? await readShardStats(fs, `${dir}/${file}.stats.json`) : undefined;
    if (!present.has(`${file}.stats.json`)) {
      problem({ file, split: parsed.split, kind: 'MISSING_STATS', message: 'no stats file: the shard is not committed (a killed run, or the stats were deleted)' });
    } else if (!stats) {
      problem({ file: `${file}.stats.json`, split: parsed.split, kind: 'STATS', message: 'stats file does not parse or is not a stats file' });
    }
    const { sha256, bytes } = await hashFile(fs, `${dir}/${file}`);
    if (stats && (stats.sha256 !== sha256 || stats.bytes !== bytes)) {
      problem({ file, split: parsed.split, kind: 'SHA256', message: `sha256/size ${sha256.slice(0, 12)}../${bytes} differ from the stats file's ${stats.sha256.slice(0, 12)}../${stats.bytes}` });
    }
    const m = inManifest.get(file);
    if (manifest && !m) problem({ file, split: parsed.split, kind: 'MANIFEST', message: 'not listed in manifest.json' });
    if (m && m.sha256 !== sha256) problem({ file, split: parsed.split, kind: 'SHA256', message: `sha256 differs from manifest.json's` });
    let rows: ExportRow[] = [];
    try {
      rows = [];
      for await (const r of readShardRows(`${dir}/${file}`, parsed.format)) rows.push(r);
    } catch (err) {
      problem({ file, split: parsed.split, kind: 'UNREADABLE', message: `cannot be read: ${(err as Error).message}` });
    }
    totalRows += rows.length;
    if (stats && stats.rows !== rows.length) problem({ file, split: parsed.split, kind: 'ROWS', message: `${rows.length} rows in the file, ${stats.rows} in its stats` });
    if (m && m.rows !== rows.length) problem({ file, split: parsed.split, kind: 'ROWS', message: `${rows.length} rows in the file, ${m.rows} in manifest.json` });
    let failed = failedAt.get(parsed.split);
    if (!failed) failedAt.set(parsed.split, (failed = new Set()));
    for (const f of stats?.failures ?? []) failed.add(f.position);
    let bySplit = wanted.get(parsed.split);
    if (!bySplit) wanted.set(parsed.split, (bySplit = new Map()));
    for (const row of rows) {
      if (stats && (row.position < stats.positions.start || row.position >= stats.positions.end)) {
        problem({ file, split: row.split, position: row.position, id: row.id, kind: 'POSITION', message: `position outside the shard's range [${stats.positions.start}, ${stats.positions.end})` });
      }
      if (bySplit.has(row.position)) {
        problem({ file, split: row.split, position: row.position, id: row.id, kind: 'DUPLICATE', message: `also in ${bySplit.get(row.position)!.file}` });
        continue;
      }
      bySplit.set(row.position, { file, row });
    }
    shardRows.set(file, {
      file,
      rows: rows.length,
      statsRows: stats?.rows ?? null,
      manifestRows: m?.rows ?? null,
      checked: 0,
      maxAbsFg: 0,
      maxAbsBg: 0,
      problems: problems.length - before,
    });
  }
  if (manifest?.totals?.rows !== undefined && manifest.totals.rows !== totalRows) {
    problem({ file: 'manifest.json', kind: 'ROWS', message: `totals.rows ${manifest.totals.rows}, ${totalRows} rows in the shards` });
  }

  let imagesChecked = 0;
  // Published images identical to their originals: all of them means the noise source added nothing.
  let unchanged = 0;
  const available = new Set(await reader.splits());
  const limit = manifest?.run?.args?.limit ?? undefined;
  // A split the run was asked for may have no shard at all (every one lost, or never reached):
  // it is walked too, so that its samples show as not published.
  const asked = manifest?.run?.args?.splits;
  for (const split of Array.isArray(asked) ? asked : []) {
    if (typeof split === 'string' && !wanted.has(split)) wanted.set(split, new Map());
  }
  // The prompt as the run matched it: its entries made exact against the dataset's categories.
  let matched = prompt;
  if (prompt.kind === 'categories') {
    const categories: Category[] = [];
    for (const split of wanted.keys()) if (available.has(split)) categories.push(...(await reader.categories(split).catch(() => [])));
    matched = resolvePromptSelection(prompt, categories, reader.root);
  }
  for (const [split, rows] of wanted) {
    if (!available.has(split)) {
      problem({ file: dir, split, kind: 'SPLIT', message: `the dataset ${reader.root} has no split "${split}"` });
      continue;
    }
    const failed = failedAt.get(split);
    // A count and the first few: a split can hold millions of samples.
    let missing = 0;
    const firstMissing: number[] = [];
    let position = 0;
    for await (const item of reader.samples(split)) {
      if (limit !== undefined && position >= limit) break;
      const p = position++;
      const entry = rows.get(p);
      if (!entry && !failed?.has(p) && missing++ < 10) firstMissing.push(p);
      if (entry) {
        const shard = shardRows.get(entry.file)!;
        const found = await checkRow(entry.row, item, budget, matched, options.limitInputPixels);
        // An original that cannot be read now was not compared (its problem says so).
        if (!found.problems.some(([kind]) => kind === 'ORIGINAL')) {
          imagesChecked++;
          shard.checked++;
          if (found.maxAbsFg === 0 && found.maxAbsBg === 0) unchanged++;
        }
        if (found.maxAbsFg !== undefined) shard.maxAbsFg = Math.max(shard.maxAbsFg, found.maxAbsFg);
        if (found.maxAbsBg !== undefined) shard.maxAbsBg = Math.max(shard.maxAbsBg, found.maxAbsBg);
        for (const [kind, message] of found.problems) {
          problem({ file: entry.file, split, position: p, id: entry.row.id, kind, message });
          shard.problems++;
        }
        rows.delete(p);
      }
    }
    if (missing > 0) {
      const shown = firstMissing.join(', ') + (missing > firstMissing.length ? ', ...' : '');
      problem({
        file: dir,
        split,
        position: firstMissing[0],
        kind: 'NOT_PUBLISHED',
        message: `${missing} of the split's ${position} samples are in no shard and no failure record (positions ${shown}): the run did not reach them; rerun it to complete the folder`,
      });
    }
    for (const [p, entry] of rows) {
      problem({ file: entry.file, split, position: p, id: entry.row.id, kind: 'NO_ORIGINAL', message: `the dataset's split has no sample at position ${p}` });
      shardRows.get(entry.file)!.problems++;
    }
  }
  const source = manifest?.noise?.source;
  if (imagesChecked > 0 && unchanged === imagesChecked && source !== undefined && source !== 'none') {
    problem({
      file: 'manifest.json',
      kind: 'NO_NOISE',
      message: `none of the ${imagesChecked} published images differs from its original: the noise source "${source}" added nothing, so this copy is not protected`,
    });
  }
  return { dir, budget, shards: [...shardRows.values()], problems, imagesChecked, failedSamples: manifest?.totals?.failures ?? 0 };
}

async function checkRow(
  row: ExportRow,
  item: Sample | SampleError,
  budget: NoiseBudget,
  prompt: PromptSelection,
  limitInputPixels: number | undefined,
): Promise<{ problems: [string, string][]; maxAbsFg?: number; maxAbsBg?: number }> {
  if (item instanceof SampleError) return { problems: [['ORIGINAL', `the original cannot be read now: ${item.message}`]] };
  if (item.id !== row.id) return { problems: [['ID', `row id ${row.id}, but the dataset's sample at this position is ${item.id}`]] };
  let original: RgbImage;
  try {
    original = (await decodeRgb(item.image.kind === 'file' ? item.image.path : item.image.bytes, { limitInputPixels })).image;
  } catch (err) {
    return { problems: [['ORIGINAL', `the original image does not decode: ${(err as Error).message}`]] };
  }
  if (row.image.bytes.length === 0) return { problems: [['PIXELS', 'the row has no image bytes']] };
  let published: RgbImage;
  try {
    published = (await decodeRgb(row.image.bytes, { limitInputPixels })).image;
  } catch (err) {
    return { problems: [['PIXELS', `the published image does not decode: ${(err as Error).message}`]] };
  }
  if (published.width !== original.width || published.height !== original.height || row.width !== original.width || row.height !== original.height) {
    return { problems: [['SIZE', `published ${published.width}x${published.height} (row says ${row.width}x${row.height}), original ${original.width}x${original.height}`]] };
  }
  const problems: [string, string][] = [];
  const { width, height } = original;
  const promptRles: Rle[] = [];
  const stored = new Map(row.objects.map((o) => [o.id, o]));
  for (const object of item.objects) {
    let rle: Rle;
    try {
      rle = await object.mask();
    } catch (err) {
      problems.push(['ORIGINAL', `object ${object.id}: the original mask cannot be decoded now: ${(err as Error).message}`]);
      continue;
    }
    const s = stored.get(object.id);
    if (!s) problems.push(['MASKS', `object ${object.id} of the dataset is missing from the row`]);
    else if (s.rle !== rleToString(rle)) problems.push(['MASKS', `object ${object.id}: stored rle differs from the dataset's mask`]);
    if (inPrompt(object, prompt)) promptRles.push(rle);
  }
  if (row.objects.length !== item.objects.length) problems.push(['MASKS', `row has ${row.objects.length} objects, the dataset ${item.objects.length}`]);
  // Malformed stored RLEs are reported, not thrown: a consumer would hit them too.
  for (const o of row.objects) {
    try {
      rleFromString(o.rle, height, width);
    } catch (err) {
      problems.push(['MASKS', `object ${o.id}: stored rle does not decode: ${(err as Error).message}`]);
    }
  }
  const stats = measureNoise(original, published, rleDecode(rleUnion(promptRles, height, width)));
  const violation = budgetViolation(stats, budget);
  if (violation) problems.push(['BUDGET', violation]);
  return { problems, maxAbsFg: stats.maxAbsFg, maxAbsBg: stats.maxAbsBg };
}

/** The report as a plain-text table (one line per shard, then one per problem). */
export function formatVerifyReport(report: VerifyReport): string {
  const head = ['shard', 'rows', 'stats', 'manifest', 'checked', 'maxFg', 'maxBg', 'problems'];
  const body = report.shards.map((s) => [
    s.file,
    String(s.rows),
    s.statsRows === null ? '-' : String(s.statsRows),
    s.manifestRows === null ? '-' : String(s.manifestRows),
    String(s.checked),
    String(s.maxAbsFg),
    String(s.maxAbsBg),
    String(s.problems),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ''];
  const fg = Math.floor(report.budget.epsFg * 255 + 1e-9);
  const bg = Math.floor(report.budget.epsBg * 255 + 1e-9);
  out.push(`${report.shards.length} shards, ${report.imagesChecked} images compared with their originals; budget fg ${fg}/255, bg ${bg}/255`);
  if (report.failedSamples > 0) {
    out.push(`${report.failedSamples} sample(s) failed in the run and are not in the published copy (manifest.json lists each with its reason)`);
  }
  if (report.problems.length === 0) out.push('no problems found');
  else {
    out.push('', `${report.problems.length} problem(s):`);
    const ph = ['file', 'split', 'position', 'id', 'kind', 'problem'];
    const pb = report.problems.map((p) => [p.file, p.split ?? '-', p.position === undefined ? '-' : String(p.position), p.id ?? '-', p.kind, p.message]);
    const pw = ph.map((h, i) => (i === ph.length - 1 ? 0 : Math.max(h.length, ...pb.map((r) => r[i]!.length))));
    const pl = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(pw[i]!))).join('  ');
    out.push(pl(ph), ...pb.map(pl));
  }
  return out.join('\n');
}
