import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PLUGIN_CONTRACT_VERSION, SampleError, rleArea, rleToBbox, type Sample } from '@unseg/core';
import sa1b, { SA1B_CATEGORY, sa1bPlugin } from './index.js';
import { fileURLToPath } from 'node:url';
import { collectSamples as collect, describePluginConformance, findSharedData, okSamples, sampleErrors as errors, tempDir, writeJson } from '@unseg/core/testing';

const fixtures = fileURLToPath(new URL('./test-fixtures', import.meta.url));

const root = path.join(fixtures, 'sa1b');
const jsonPath = path.join(root, 'sa_000000', 'sa_1.json');
const jpgPath = path.join(root, 'sa_000000', 'sa_1.jpg');

type Sa1bJson = { image: Record<string, unknown>; annotations: Record<string, unknown>[] };
async function fixtureJson(): Promise<Sa1bJson> {
  return JSON.parse(await fs.readFile(jsonPath, 'utf8')) as Sa1bJson;
}

/** A copy of the fixture as sa_<n> files in `dir` (relative to a new root), the JSON edited by `mutate`. */
async function copyAs(ns: readonly number[], dir = 'sa_000000', mutate?: (j: Sa1bJson, n: number) => void, into?: string): Promise<string> {
  const out = into ?? (await tempDir('sa1b-'));
  for (const n of ns) {
    const j = await fixtureJson();
    j.image.image_id = n;
    j.image.file_name = `sa_${n}.jpg`;
    mutate?.(j, n);
    await writeJson(path.join(out, dir, `sa_${n}.json`), j);
    await fs.copyFile(jpgPath, path.join(out, dir, `sa_${n}.jpg`));
  }
  return out;
}

describe('plugin object', () => {
  it('declares its name, contract and package version', async () => {
    const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect([sa1b.name, sa1b.contract, sa1b.version]).toEqual(['sa1b', PLUGIN_CONTRACT_VERSION, pkg.version]);
  });
});

describe('detect', () => {
  it('accepts the sa_* folder layout and the flat layout', async () => {
    expect(await sa1b.detect(root)).toBe(true);
    expect(await sa1b.detect(path.join(root, 'sa_000000'))).toBe(true);
  });

  it('rejects COCO, ADE20K, empty and missing folders', async () => {
    const coco = await tempDir('coco-');
    await writeJson(path.join(coco, 'annotations', 'instances_val2017.json'), {});
    const rf = await tempDir('rf-');
    await writeJson(path.join(rf, 'valid', '_annotations.coco.json'), {});
    const ade = await tempDir('ade-');
    await fs.mkdir(path.join(ade, 'images', 'validation'), { recursive: true });
    await fs.mkdir(path.join(ade, 'annotations', 'validation'), { recursive: true });
    for (const r of [coco, rf, ade, await tempDir('empty-'), '/nonexistent/unseg']) expect(await sa1b.detect(r)).toBe(false);
  });
});

describe('reading the fixture', () => {
  it('one split, one category, one sample with every mask of the JSON', async () => {
    const json = await fixtureJson();
    const reader = await sa1b.open(root);
    expect(await reader.splits()).toEqual(['train']);
    expect(await reader.categories('train')).toEqual([SA1B_CATEGORY]);
    const items = await collect(reader, 'train');
    expect(errors(items)).toEqual([]);
    const [sample] = okSamples(items) as [Sample];
    expect(sample.id).toBe('sa_1');
    expect(sample.image).toEqual({ kind: 'file', path: jpgPath });
    expect([sample.width, sample.height]).toEqual([json.image.width, json.image.height]);
    expect(sample.meta?.image).toEqual(json.image);
    expect(sample.objects.map((o) => o.id)).toEqual(json.annotations.map((a) => String(a.id)));
    expect(sample.objects.length).toBe(42);
  });

  it('masks decode at the image size with exactly the published area and bbox', async () => {
    const [sample] = okSamples(await collect(await sa1b.open(root), 'train')) as [Sample];
    for (const obj of sample.objects) {
      expect([obj.category, obj.categoryId, obj.isThing, obj.isCrowd]).toEqual(['object', 1, true, false]);
      const rle = await obj.mask();
      expect([rle.height, rle.width]).toEqual([sample.height, sample.width]);
      // SA-1B's area and bbox are computed from the RLE itself (pycocotools), so they are exact.
      const ann = obj.annotation as { area: number; bbox: number[] };
      expect(rleArea(rle)).toBe(ann.area);
      expect(rleToBbox(rle)).toEqual(ann.bbox);
      expect(obj.bbox).toEqual(ann.bbox);
    }
  });

  it('orders by folder, then by image number (sa_2 before sa_10), flat files first', async () => {
    const r = await copyAs([10, 2, 1], 'sa_000001');
    await copyAs([7], 'sa_000000', undefined, r);
    await copyAs([30, 4], '.', undefined, r);
    const ids = okSamples(await collect(await sa1b.open(r), 'train')).map((s) => s.id);
    expect(ids).toEqual(['sa_4', 'sa_30', 'sa_7', 'sa_1', 'sa_2', 'sa_10']);
  });
});

describe('bad input: each yields a SampleError naming the file', () => {
  async function only(r: string, options = {}): Promise<SampleError> {
    const items = await collect(await sa1bPlugin(options).open(r), 'train');
    expect(items).toHaveLength(1);
    expect(items[0]).toBeInstanceOf(SampleError);
    return items[0] as SampleError;
  }
  const jsonIn = (r: string, n = 5) => path.join(r, 'sa_000000', `sa_${n}.json`);

  it('JSON that does not parse', async () => {
    const r = await copyAs([5]);
    await fs.writeFile(jsonIn(r), '{"image": {');
    const e = await only(r);
    expect([e.file, e.sampleId]).toEqual([jsonIn(r), 'sa_5']);
    expect(e.reason).toMatch(/not valid JSON/);
  });

  it('JSON over the size limit', async () => {
    const e = await only(await copyAs([5]), { maxJsonBytes: 100 });
    expect(e.reason).toMatch(/over the limit of 100 bytes/);
  });

  it.each([
    ['no "annotations"', (j: Sa1bJson) => delete (j as Partial<Sa1bJson>).annotations, /expected \{"image"/],
    ['no image size', (j: Sa1bJson) => delete j.image.width, /"image" must have/],
    ['an RLE of another size', (j: Sa1bJson) => ((j.annotations[3]!.segmentation as { size: number[] }).size = [10, 10]), /annotation 4 segmentation size \[10,10\]/],
    ['uncompressed counts', (j: Sa1bJson) => ((j.annotations[0]!.segmentation as { counts: unknown }).counts = [1, 2]), /annotation 1 "segmentation" must be/],
    ['no predicted_iou', (j: Sa1bJson) => delete j.annotations[2]!.predicted_iou, /annotation 3 has no numeric "predicted_iou"/],
    ['a repeated annotation id', (j: Sa1bJson) => (j.annotations[1]!.id = 1), /annotation id 1 appears twice/],
  ])('%s', async (_what, mutate, message) => {
    const r = await copyAs([5], 'sa_000000', (j) => void mutate(j));
    const e = await only(r);
    expect(e.file).toBe(jsonIn(r));
    expect(e.reason).toMatch(message);
  });

  it('RLE counts that do not sum to h*w: the mask rejects, naming the JSON and annotation', async () => {
    const r = await copyAs([5], 'sa_000000', (j) => {
      (j.annotations[0]!.segmentation as { counts: string }).counts = '0a';
    });
    const [sample] = okSamples(await collect(await sa1b.open(r), 'train')) as [Sample];
    const e = (await sample.objects[0]?.mask().catch((x: unknown) => x)) as SampleError;
    expect(e).toBeInstanceOf(SampleError);
    expect(e.file).toBe(jsonIn(r));
    expect(e.reason).toMatch(/^annotation 1: bad segmentation/);
    await expect(sample.objects[1]?.mask()).resolves.toBeDefined();
  });

  it.each([['../../../../etc/passwd'], ['/etc/passwd']])('file_name %s is refused without being read', async (name) => {
    const r = await copyAs([5], 'sa_000000', (j) => (j.image.file_name = name));
    const e = await only(r);
    expect(e.reason).toMatch(/refused/);
  });

  it('a symlinked image leading out of the root is refused unless followSymlinks', async () => {
    const r = await copyAs([5]);
    const outside = await tempDir('outside-');
    await fs.rename(path.join(r, 'sa_000000', 'sa_5.jpg'), path.join(outside, 'x.jpg'));
    await fs.symlink(path.join(outside, 'x.jpg'), path.join(r, 'sa_000000', 'sa_5.jpg'));
    expect((await only(r)).reason).toMatch(/symbolic link leading outside/);
    expect(okSamples(await collect(await sa1b.open(r, { followSymlinks: true }), 'train'))).toHaveLength(1);
  });

  it('a missing image, and an image without JSON', async () => {
    const r = await copyAs([5, 6]);
    await fs.rm(path.join(r, 'sa_000000', 'sa_5.jpg'));
    await fs.rm(jsonIn(r, 6));
    const items = await collect(await sa1b.open(r), 'train');
    expect(errors(items).map((e) => [e.file, e.code])).toEqual([
      [jsonIn(r, 5), 'IMAGE_UNAVAILABLE'],
      [path.join(r, 'sa_000000', 'sa_6.jpg'), 'MISSING_ANNOTATION'],
    ]);
  });

  it('the same image in two folders: the second is a duplicate', async () => {
    const r = await copyAs([5], 'sa_000000');
    await copyAs([5], 'sa_000001', undefined, r);
    const items = await collect(await sa1b.open(r), 'train');
    expect(okSamples(items)).toHaveLength(1);
    expect(errors(items).map((e) => [e.file, e.code])).toEqual([[path.join(r, 'sa_000001', 'sa_5.json'), 'DUPLICATE_IMAGE_ID']]);
  });
});

describe('the real dataset in ../shared/data', () => {
  const facades = findSharedData('sa1b-facades');
  if (!facades) it.skip('sa1b-facades: ../shared/data/sa1b-facades not found beside the repository; skipped', () => undefined);
  else
    it('sa1b-facades: 83 images, 2,842 masks, each exact to its area and bbox and to MAPPING.tsv', async () => {
      expect(await sa1b.detect(facades)).toBe(true);
      const mapping = new Map(
        (await fs.readFile(path.join(facades, 'MAPPING.tsv'), 'utf8'))
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split('\t'))
          .map(([file, , n]) => [(file as string).replace(/\.jpg$/, ''), Number(n)]),
      );
      const items = await collect(await sa1b.open(facades), 'train');
      expect(errors(items)).toEqual([]);
      const samples = okSamples(items);
      expect(samples).toHaveLength(83);
      let masks = 0;
      for (const s of samples) {
        expect(s.objects.length).toBe(mapping.get(s.id));
        for (const o of s.objects) {
          const rle = await o.mask();
          expect(rleArea(rle)).toBe((o.annotation as { area: number }).area);
          expect(rleToBbox(rle)).toEqual((o.annotation as { bbox: number[] }).bbox);
          masks++;
        }
      }
      expect(masks).toBe(2842);
    }, 300_000);
});

// The contract's generic rules, checked by the same harness a third-party plugin author uses.
describePluginConformance(sa1b, [{ root, expect: { splits: ['train'], sampleIds: { train: ['sa_1'] } } }]);
