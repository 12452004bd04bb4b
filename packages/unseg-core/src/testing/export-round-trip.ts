import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runDataset } from '../engine/run.js';
import { exportShards, type ExportReport } from '../export/export.js';
import { readShardRows } from '../export/rows.js';
import type { ExportRow } from '../export/types.js';
import { decodeRgb } from '../image/codec.js';
import { rleToString } from '../masks/index.js';
import { createUniformNoiseSource } from '../noise/baseline.js';
import type { DatasetPlugin, Sample } from '../plugin/types.js';
import { collectSamples, okSamples, sampleErrors } from './collect.js';
import { tempDir } from './fixtures.js';

export interface ProtectedFixture {
  /** The protected shards (a temp folder: remove it when done). */
  readonly shards: string;
  /** Every published row, in shard order. */
  readonly rows: readonly ExportRow[];
}

/**
 * Protects a plugin's fixture with uniform noise (8/255, 2/255) into Parquet shards in a temp
 * folder and reads the published rows back. Throws if any sample failed: an export test needs
 * every sample published.
 */
export async function protectFixture(plugin: DatasetPlugin, input: string): Promise<ProtectedFixture> {
  const shards = await tempDir('unseg-export-shards-');
  const summary = await runDataset({
    reader: await plugin.open(input),
    outDir: shards,
    root: input,
    noise: createUniformNoiseSource({ seed: 5 }),
    budget: { epsFg: 8 / 255, epsBg: 2 / 255 },
    concurrency: 2,
    runInfo: { plugin: plugin.name, input },
  });
  if (summary.failed > 0) throw new Error(`${summary.failed} sample(s) of ${input} failed to publish; see ${path.join(shards, 'manifest.json')}`);
  const rows: ExportRow[] = [];
  for (const f of (await fs.readdir(shards)).filter((n) => n.endsWith('.parquet')).sort()) {
    for await (const r of readShardRows(path.join(shards, f), 'parquet')) rows.push(r);
  }
  return { shards, rows };
}

export interface CompareExportOptions {
  /** The exported dataset folder. */
  readonly exported: string;
  /** The fixture the shards were made from. */
  readonly input: string;
  readonly split: string;
  /** The published rows (protectFixture's). */
  readonly rows: readonly ExportRow[];
}

async function decodeSampleImage(s: Sample): Promise<Uint8Array> {
  return (await decodeRgb(s.image.kind === 'file' ? s.image.path : s.image.bytes)).image.data;
}

/**
 * Reads an export back through the plugin and lists every way it differs from the input and
 * the published rows: sample ids, sizes, objects (id, category, crowd flag), masks (as COCO RLE),
 * and images (a PNG file with the published bytes, whose pixels are not the input's: the noise
 * is there). An empty list means the export is faithful.
 */
export async function compareExport(plugin: DatasetPlugin, options: CompareExportOptions): Promise<string[]> {
  const { exported, input, split, rows } = options;
  const problems: string[] = [];
  const backItems = await collectSamples(await plugin.open(exported), split);
  for (const e of sampleErrors(backItems)) problems.push(`the export does not read back: ${e.message}`);
  const back = okSamples(backItems);
  const original = okSamples(await collectSamples(await plugin.open(input), split));
  const ids = (list: readonly { id: string }[]) => (list.length ? list.map((s) => s.id).join(',') : '(none)');
  if (ids(back) !== ids(rows)) problems.push(`exported ids ${ids(back)} differ from the published ${ids(rows)}`);
  if (ids(back) !== ids(original)) problems.push(`exported ids ${ids(back)} differ from the input's ${ids(original)}`);
  for (const [i, s] of back.entries()) {
    const o = original[i];
    const row = rows[i];
    if (!o || !row) break;
    if (s.width !== o.width || s.height !== o.height) problems.push(`${s.id}: size ${s.width}x${s.height} differs from the input's ${o.width}x${o.height}`);
    const objects = (x: Sample) => JSON.stringify(x.objects.map((b) => [b.id, b.categoryId, b.category, b.isCrowd]));
    if (objects(s) !== objects(o)) problems.push(`${s.id}: objects ${objects(s)} differ from the input's ${objects(o)}`);
    for (const [j, obj] of s.objects.entries()) {
      const theirs = o.objects[j];
      if (theirs && rleToString(await obj.mask()) !== rleToString(await theirs.mask())) problems.push(`${s.id}: mask of object ${obj.id} differs`);
    }
    if (s.image.kind !== 'file' || path.extname(s.image.path) !== '.png') {
      problems.push(`${s.id}: exported image is not a PNG file`);
      continue;
    }
    const bytes = await fs.readFile(s.image.path);
    if (Buffer.compare(bytes, Buffer.from(row.image.bytes)) !== 0) problems.push(`${s.id}: exported file is not the published image byte for byte`);
    const pixels = Buffer.from((await decodeRgb(bytes)).image.data);
    if (Buffer.compare(pixels, Buffer.from((await decodeRgb(row.image.bytes)).image.data)) !== 0) problems.push(`${s.id}: exported pixels differ from the published ones`);
    if (Buffer.compare(pixels, Buffer.from(await decodeSampleImage(o))) === 0) problems.push(`${s.id}: exported pixels are the input's: the noise is missing`);
  }
  return problems;
}

export interface ExportRoundTripOptions {
  /** The fixture dataset the plugin reads. */
  readonly input: string;
  readonly split: string;
  /** As exportShards: undefined uses the original dataset, null rebuilds from the shards alone. */
  readonly original?: string | null;
}

export interface ExportRoundTrip extends ProtectedFixture {
  /** The exported dataset (a temp folder: remove it when done). */
  readonly exported: string;
  readonly report: ExportReport;
  /** Every way the export differs from the input and the shards (compareExport), and from the report's promises. */
  readonly problems: readonly string[];
}

/**
 * protectFixture, the plugin's export hook (exportShards), then compareExport: the whole
 * publish -> export -> read back loop a plugin with an export hook must survive.
 */
export async function exportRoundTrip(plugin: DatasetPlugin, options: ExportRoundTripOptions): Promise<ExportRoundTrip> {
  const { input, split } = options;
  const { shards, rows } = await protectFixture(plugin, input);
  const exported = await tempDir('unseg-export-');
  const report = await exportShards({ dir: shards, out: exported, plugin, original: options.original });
  const problems: string[] = [];
  const expectedSource = options.original === null ? 'shards' : 'original';
  if (report.splits[split]?.annotations !== expectedSource) {
    problems.push(`annotations came from ${String(report.splits[split]?.annotations)}, expected ${expectedSource}`);
  }
  if (report.splits[split]?.images !== rows.length) problems.push(`${report.splits[split]?.images} images exported, ${rows.length} rows published`);
  problems.push(...(await compareExport(plugin, { exported, input, split, rows })));
  return { shards, rows, exported, report, problems };
}
