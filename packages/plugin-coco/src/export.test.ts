import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ExportPathError, createExportTarget, exportShards, type ExportRow } from '@unseg/core';
import { compareExport, protectFixture, tempDir, type ProtectedFixture } from '@unseg/core/testing';
import coco, { cocoPanopticPlugin } from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = path.resolve(here, '../../../samples/coco-facades-mini');
const panopticFixture = path.join(here, 'test-fixtures', 'coco-panoptic');

const cleanups: string[] = [];
afterAll(async () => {
  for (const d of cleanups) await fs.rm(d, { recursive: true, force: true });
});

describe('COCO export', () => {
  let fixture: ProtectedFixture;
  let shards: string;
  beforeAll(async () => {
    fixture = await protectFixture(coco, sample);
    shards = fixture.shards;
    cleanups.push(shards);
  }, 120_000);

  test('from the original: the bundled sample round-trips through the coco plugin, with the JSON otherwise unchanged', async () => {
    const out = path.join(await tempDir('unseg-export-'), 'coco');
    cleanups.push(path.dirname(out));
    const report = await exportShards({ dir: shards, out, plugin: coco });
    expect(report.original).toBe(sample);
    expect(report.splits.train).toMatchObject({ images: 4, annotations: 'original', annotationFiles: ['train/_annotations.coco.json'] });
    expect(report.files).toBe(5);
    expect(await compareExport(coco, { exported: out, input: sample, split: 'train', rows: fixture.rows })).toEqual([]);
    const a = JSON.parse(await fs.readFile(path.join(sample, 'train/_annotations.coco.json'), 'utf8')) as Record<string, unknown> & { images: Record<string, unknown>[] };
    const b = JSON.parse(await fs.readFile(path.join(out, 'train/_annotations.coco.json'), 'utf8')) as typeof a;
    expect(b.categories).toEqual(a.categories);
    expect(b.annotations).toEqual(a.annotations);
    expect(b.info).toEqual(a.info);
    expect(b.licenses).toEqual(a.licenses);
    expect(b.images.map((i) => ({ ...i, file_name: undefined }))).toEqual(a.images.map((i) => ({ ...i, file_name: undefined })));
    expect(b.images.every((i) => String(i.file_name).endsWith('.png'))).toBe(true);
  }, 120_000);

  test('from the shards alone: an instances JSON in the official layout that loads back the same', async () => {
    const out = await tempDir('unseg-export-');
    cleanups.push(out);
    const report = await exportShards({ dir: shards, out, plugin: coco, original: null });
    expect(report.splits.train).toMatchObject({ images: 4, annotations: 'shards', annotationFiles: ['annotations/instances_train.json'] });
    expect(await compareExport(coco, { exported: out, input: sample, split: 'train', rows: fixture.rows })).toEqual([]);
  }, 120_000);

  test('an original edited since the run is refused, not mixed with the shards', async () => {
    const copy = await tempDir('unseg-export-orig-');
    cleanups.push(copy);
    await fs.cp(sample, copy, { recursive: true });
    const file = path.join(copy, 'train/_annotations.coco.json');
    const json = JSON.parse(await fs.readFile(file, 'utf8')) as { annotations: { id: number }[] };
    json.annotations[0]!.id = 999_999;
    await fs.writeFile(file, JSON.stringify(json));
    const out = await tempDir('unseg-export-');
    cleanups.push(out);
    await expect(exportShards({ dir: shards, out, plugin: coco, original: copy })).rejects.toThrow(/changed since the run/);
  });

  test('an original relabelled since the run (same ids) is refused', async () => {
    const copy = await tempDir('unseg-export-orig-');
    cleanups.push(copy);
    await fs.cp(sample, copy, { recursive: true });
    const file = path.join(copy, 'train/_annotations.coco.json');
    const json = JSON.parse(await fs.readFile(file, 'utf8')) as { annotations: { id: number; category_id: number }[] };
    const first = json.annotations[0]!;
    first.category_id = first.category_id === 1 ? 2 : 1;
    await fs.writeFile(file, JSON.stringify(json));
    const out = await tempDir('unseg-export-');
    cleanups.push(out);
    await expect(exportShards({ dir: shards, out, plugin: coco, original: copy })).rejects.toThrow(
      new RegExp(`annotation ${first.id} in train/_annotations\\.coco\\.json differs from the one the shards were made from`),
    );
  });

  test('a tampered shard is refused', async () => {
    const copy = await tempDir('unseg-export-tamper-');
    cleanups.push(copy);
    await fs.cp(shards, copy, { recursive: true });
    const shard = path.join(copy, 'train-00000.parquet');
    const bytes = await fs.readFile(shard);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 1;
    await fs.writeFile(shard, bytes);
    await expect(exportShards({ dir: copy, out: await tempDir('unseg-export-'), plugin: coco })).rejects.toThrow(/changed after the run/);
  });
});

describe('COCO export: untrusted paths', () => {
  const row = (p: string): ExportRow => ({
    position: 0,
    id: '1',
    split: 'train',
    width: 1,
    height: 1,
    image: { bytes: new Uint8Array([1]), path: p },
    sourcePath: 'train/a.jpg',
    objects: [],
  });
  async function* rows(...paths: string[]): AsyncGenerator<ExportRow> {
    for (const p of paths) yield row(p);
  }

  test.each(['train/../../evil.png', '/tmp/train/evil.png', 'train/..\\evil.png', 'x/train/./a.png', 'train//a.png'])(
    'a row whose image path is %j writes nothing outside --out',
    async (bad) => {
      const parent = await tempDir('unseg-export-parent-');
      cleanups.push(parent);
      const out = path.join(parent, 'out');
      const target = await createExportTarget(out, undefined);
      await expect(coco.export!({ split: 'train', rows: rows(bad), original: undefined, out: target })).rejects.toThrow(ExportPathError);
      expect(await fs.readdir(parent)).toEqual(['out']);
    },
  );

  test('two rows naming one file are refused', async () => {
    const out = await tempDir('unseg-export-');
    cleanups.push(out);
    const target = await createExportTarget(out, undefined);
    await expect(coco.export!({ split: 'train', rows: rows('train/a.png', 'train/a.png'), original: undefined, out: target })).rejects.toThrow(/written twice/);
  });

  test('a symbolic link planted in the export folder is not followed', async () => {
    const parent = await tempDir('unseg-export-parent-');
    cleanups.push(parent);
    const out = path.join(parent, 'out');
    const target = await createExportTarget(out, undefined);
    await fs.mkdir(path.join(parent, 'elsewhere'));
    await fs.symlink(path.join(parent, 'elsewhere'), path.join(out, 'train'));
    await expect(target.write('train/a.png', 'x')).rejects.toThrow(/leads outside/);
    expect(await fs.readdir(path.join(parent, 'elsewhere'))).toEqual([]);
  });

  test('a non-empty export folder is refused', async () => {
    const out = await tempDir('unseg-export-');
    cleanups.push(out);
    await fs.writeFile(path.join(out, 'keep.txt'), 'x');
    await expect(createExportTarget(out, undefined)).rejects.toThrow(/not empty/);
  });
});

describe('COCO panoptic export', () => {
  test('from the original: JSON and segment PNGs copied, images replaced; round-trips through the panoptic reader', async () => {
    const panoptic = cocoPanopticPlugin();
    const { shards, rows } = await protectFixture(panoptic, panopticFixture);
    const out = await tempDir('unseg-export-');
    cleanups.push(shards, out);
    const report = await exportShards({ dir: shards, out, plugin: panoptic });
    const split = Object.keys(report.splits)[0]!;
    expect(report.splits[split]!.annotations).toBe('original');
    expect(await compareExport(panoptic, { exported: out, input: panopticFixture, split, rows })).toEqual([]);
  }, 120_000);

  test('a segment PNG redrawn since the run is refused, naming it; --from-shards still exports', async () => {
    const panoptic = cocoPanopticPlugin();
    const { shards, rows } = await protectFixture(panoptic, panopticFixture);
    const copy = await tempDir('unseg-export-orig-');
    cleanups.push(shards, copy);
    await fs.cp(panopticFixture, copy, { recursive: true });
    const pngDir = path.join(copy, 'annotations', 'panoptic_val2017');
    const name = (await fs.readdir(pngDir)).sort()[0]!;
    const file = path.join(pngDir, name);
    const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // Give the first pixel the colour (segment id) of another pixel: same segments, one moved.
    const other = data.findIndex((v, i) => i % 3 === 0 && (v !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]));
    expect(other).toBeGreaterThan(0);
    data.copyWithin(0, other, other + 3);
    await fs.writeFile(file, await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer());
    const out = await tempDir('unseg-export-');
    cleanups.push(out);
    await expect(exportShards({ dir: shards, out, plugin: panoptic, original: copy })).rejects.toThrow(
      new RegExp(`annotations/panoptic_val2017/${name.replace('.', '\\.')} draws other segments than the shards' masks`),
    );
    const rebuilt = await tempDir('unseg-export-');
    cleanups.push(rebuilt);
    expect((await exportShards({ dir: shards, out: rebuilt, plugin: panoptic, original: null })).splits.val2017?.images).toBe(rows.length);
  }, 120_000);
});
