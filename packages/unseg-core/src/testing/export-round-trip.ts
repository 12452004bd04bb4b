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

export interface ExportRoundTripOptions {
  /** The fixture dataset the plugin reads. */
  readonly input: string;
  readonly split: string;
  /** As exportShards: undefined uses the original dataset, null rebuilds from the shards alone. */
  readonly original?: string | null;
}

export interface ExportRoundTrip {
  /** The protected shards (a temp folder: remove it when done). */
  readonly shards: string;
  /** The exported dataset (a temp folder: remove it when done). */
  readonly exported: string;
  readonly report: ExportReport;
  readonly rows: readonly ExportRow[];
  /** Every way the export, read back through the plugin, differs from the input and the shards. */
  readonly problems: readonly string[];
}

/**
 * Protects a plugin's fixture, exports it in the format's own layout with the plugin's export
 * hook, reads the export back through the plugin and lists every difference: sample ids, objects,
 * masks (as COCO RLE) and pixels (the exported image must be the published one).
 */
export async function exportRoundTrip(plugin: DatasetPlugin, options: ExportRoundTripOptions): Promise<ExportRoundTrip> {
  const { input, split } = options;
  const shards = await tempDir('unseg-export-shards-');
  await runDataset({
    reader: await plugin.open(input),
    outDir: shards,
    root: input,
    noise: createUniformNoiseSource({ seed: 5 }),
    budget: { epsFg: 8 / 255, epsBg: 2 / 255 },
    concurrency: 2,
    runInfo: { plugin: plugin.name, input },
  });
  const rows: ExportRow[] = [];
  for (const f of (await fs.readdir(shards)).filter((n) => n.endsWith('.parquet')).sort()) {
    for await (const r of readShardRows(path.join(shards, f), 'parquet')) rows.push(r);
  }
  const exported = await tempDir('unseg-export-');
  const report = await exportShards({ dir: shards, out: exported, plugin, original: options.original });
  const problems: string[] = [];
  const expectedSource = options.original === null ? 'shards' : 'original';
  if (report.splits[split]?.annotations !== expectedSource) {
    problems.push(`annotations came from ${String(report.splits[split]?.annotations)}, expected ${expectedSource}`);
  }
  if (report.splits[split]?.images !== rows.length) problems.push(`${report.splits[split]?.images} images exported, ${rows.length} rows published`);
  const backItems = await collectSamples(await plugin.open(exported), split);
  for (const e of sampleErrors(backItems)) problems.push(`the export does not read back: ${e.message}`);
  const back = okSamples(backItems);
  const original = okSamples(await collectSamples(await plugin.open(input), split));
  const ids = (list: readonly { id: string }[]) => list.map((s) => s.id).join(',');
  if (ids(back) !== ids(rows)) problems.push(`exported ids ${ids(back)} differ from the published ${ids(rows)}`);
  if (ids(back) !== ids(original)) problems.push(`exported ids ${ids(back)} differ from the input's ${ids(original)}`);
  for (const [i, s] of back.entries()) {
    const o = original[i];
    const row = rows[i];
    if (!o || !row) break;
    const objects = (x: Sample) => JSON.stringify(x.objects.map((b) => [b.id, b.categoryId]));
    if (objects(s) !== objects(o)) problems.push(`${s.id}: objects ${objects(s)} differ from the input's ${objects(o)}`);
    for (const [j, obj] of s.objects.entries()) {
      const theirs = o.objects[j];
      if (theirs && rleToString(await obj.mask()) !== rleToString(await theirs.mask())) problems.push(`${s.id}: mask of object ${obj.id} differs`);
    }
    if (s.image.kind !== 'file' || !s.image.path.endsWith('.png')) {
      problems.push(`${s.id}: exported image is not a PNG file`);
      continue;
    }
    const a = (await decodeRgb(s.image.path)).image;
    const b = (await decodeRgb(row.image.bytes)).image;
    if (Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)) !== 0) problems.push(`${s.id}: exported pixels differ from the published ones`);
  }
  return { shards, exported, report, rows, problems };
}
