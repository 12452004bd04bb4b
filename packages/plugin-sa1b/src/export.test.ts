import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SampleError, createUniformNoiseSource, decodeRgb, exportShards, readShardRows, rleToString, runDataset, type DatasetReader, type ExportRow, type Sample } from '@unseg/core';
import { tempDir } from '@unseg/core/testing';
import plugin from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const input = path.join(here, 'test-fixtures', 'sa1b');
const split = 'train';

async function samplesOf(reader: DatasetReader): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const s of reader.samples(split)) {
    if (s instanceof SampleError) throw s;
    out.push(s);
  }
  return out;
}

const dirs: string[] = [];
let shards: string;
let rows: ExportRow[];
beforeAll(async () => {
  shards = await tempDir('unseg-export-shards-');
  dirs.push(shards);
  const summary = await runDataset({
    reader: await plugin.open(input),
    outDir: shards,
    root: input,
    noise: createUniformNoiseSource({ seed: 5 }),
    budget: { epsFg: 8 / 255, epsBg: 2 / 255 },
    concurrency: 2,
    runInfo: { plugin: plugin.name, input },
  });
  expect(summary.published).toBeGreaterThan(0);
  rows = [];
  for (const f of (await fs.readdir(shards)).filter((n) => n.endsWith('.parquet')).sort()) {
    for await (const r of readShardRows(path.join(shards, f), 'parquet')) rows.push(r);
  }
}, 120_000);
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

test.each([
  ['the original', undefined],
  ['the shards alone', null],
] as const)('export from %s loads back through the plugin: same ids, masks, and the published pixels', async (_, original) => {
  const out = await tempDir('unseg-export-');
  dirs.push(out);
  const report = await exportShards({ dir: shards, out, plugin, original });
  expect(report.splits[split]!.images).toBe(rows.length);
  expect(report.splits[split]!.annotations).toBe(original === null ? 'shards' : 'original');
  const back = await samplesOf(await plugin.open(out));
  const orig = await samplesOf(await plugin.open(input));
  expect(back.map((s) => s.id)).toEqual(rows.map((r) => r.id));
  expect(back.map((s) => s.id)).toEqual(orig.map((s) => s.id));
  for (const [i, s] of back.entries()) {
    const o = orig[i]!;
    expect(s.objects.map((x) => [x.id, x.categoryId])).toEqual(o.objects.map((x) => [x.id, x.categoryId]));
    for (const [j, obj] of s.objects.entries()) expect(rleToString(await obj.mask())).toBe(rleToString(await o.objects[j]!.mask()));
    const file = (s.image as { path: string }).path;
    expect(file.endsWith('.png')).toBe(true);
    const a = (await decodeRgb(file)).image;
    const b = (await decodeRgb(rows[i]!.image.bytes)).image;
    expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data))).toBe(0);
  }
}, 120_000);

test('from the original, the JSON is unchanged but for image.file_name', async () => {
  const out = await tempDir('unseg-export-');
  dirs.push(out);
  await exportShards({ dir: shards, out, plugin });
  const a = JSON.parse(await fs.readFile(path.join(input, 'sa_000000/sa_1.json'), 'utf8')) as { image: Record<string, unknown> };
  const b = JSON.parse(await fs.readFile(path.join(out, 'sa_000000/sa_1.json'), 'utf8')) as typeof a;
  expect(b).toEqual({ ...a, image: { ...a.image, file_name: 'sa_1.png' } });
});
