import { promises as fs } from 'node:fs';
import path from 'node:path';
import { PLUGIN_CONTRACT_VERSION, SampleError, rleArea, rleDecode, rleFromSegmentation, rleToBbox, type Sample } from '@unseg/core';
import coco, { cocoPanopticPlugin, cocoPlugin } from './index.js';
import { fileURLToPath } from 'node:url';
import { collectSamples as collect, describePluginConformance, findSharedData, okSamples, sampleErrors as errors, tempDir, writeJson } from '@unseg/core/testing';

const fixtures = fileURLToPath(new URL('./test-fixtures', import.meta.url));

const official = path.join(fixtures, 'coco-official');
const panoptic = path.join(fixtures, 'coco-panoptic');
const valJson = path.join(official, 'annotations', 'instances_val2017.json');
const valImage = path.join(official, 'val2017', '000000397133.jpg');

type Json = Record<string, unknown> & { images: Record<string, unknown>[]; annotations: Record<string, unknown>[] };
async function readJson(file: string): Promise<Json> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as Json;
}

/** A Roboflow-style copy of the official val2017 fixture: <tmp>/valid/_annotations.coco.json + image. */
async function roboflowCopy(mutate?: (json: Json) => void): Promise<string> {
  const root = await tempDir('coco-rf-');
  const json = await readJson(valJson);
  mutate?.(json);
  await writeJson(path.join(root, 'valid', '_annotations.coco.json'), json);
  await fs.copyFile(valImage, path.join(root, 'valid', '000000397133.jpg'));
  return root;
}

describe('plugin object', () => {
  it('declares its name, contract and package version', async () => {
    const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(coco.name).toBe('coco');
    expect(coco.contract).toBe(PLUGIN_CONTRACT_VERSION);
    expect(coco.version).toBe(pkg.version);
    expect(cocoPanopticPlugin().name).toBe('coco-panoptic');
  });
});

describe('detect', () => {
  it('recognises the official, Roboflow and panoptic layouts', async () => {
    expect(await coco.detect(official)).toBe(true);
    expect(await coco.detect(await roboflowCopy())).toBe(true);
    expect(await coco.detect(panoptic)).toBe(true);
    expect(await cocoPanopticPlugin().detect(panoptic)).toBe(true);
    expect(await cocoPanopticPlugin().detect(official)).toBe(false);
  });

  it('accepts the folder holding coco/', async () => {
    const root = await tempDir('coco-parent-');
    await fs.cp(official, path.join(root, 'coco'), { recursive: true });
    expect(await coco.detect(root)).toBe(true);
    const reader = await coco.open(root);
    expect(reader.root).toBe(path.join(root, 'coco'));
  });

  it('rejects ADE20K, SA-1B, empty and missing folders', async () => {
    const ade = await tempDir('ade-');
    await fs.mkdir(path.join(ade, 'ADEChallengeData2016', 'images', 'validation'), { recursive: true });
    await fs.mkdir(path.join(ade, 'ADEChallengeData2016', 'annotations', 'validation'), { recursive: true });
    await fs.writeFile(path.join(ade, 'ADEChallengeData2016', 'annotations', 'validation', 'a.png'), '');
    const sa = await tempDir('sa1b-');
    await writeJson(path.join(sa, 'sa_000000', 'sa_1.json'), { image: {}, annotations: [] });
    // A stray JSON in annotations/ that is not instances_/panoptic_ is not COCO either.
    const other = await tempDir('other-');
    await writeJson(path.join(other, 'annotations', 'captions_val2017.json'), {});
    for (const root of [ade, path.join(ade, 'ADEChallengeData2016'), sa, other, await tempDir('empty-'), '/nonexistent/unseg']) {
      expect(await coco.detect(root)).toBe(false);
    }
  });
});

describe('official instances layout', () => {
  it('lists the splits and reads each with its images', async () => {
    const reader = await coco.open(official);
    expect(await reader.splits()).toEqual(['train2017', 'val2017']);
    const train = okSamples(await collect(reader, 'train2017'));
    const val = okSamples(await collect(reader, 'val2017'));
    expect(train.map((s) => s.id)).toEqual(['391895']);
    expect(val.map((s) => s.id)).toEqual(['397133']);
    // The two image-folder conventions: images/<split>/ and <split>/.
    expect(train[0]?.image).toEqual({ kind: 'file', path: path.join(official, 'images', 'train2017', '000000391895.jpg') });
    expect(val[0]?.image).toEqual({ kind: 'file', path: valImage });
    expect(val[0]?.split).toBe('val2017');
    expect([val[0]?.width, val[0]?.height]).toEqual([640, 427]);
  });

  it('gives one object per annotation with its category, and keeps the records', async () => {
    const json = await readJson(valJson);
    const reader = await coco.open(official);
    const [sample] = okSamples(await collect(reader, 'val2017')) as [Sample];
    expect(sample.objects).toHaveLength(json.annotations.length);
    const cats = new Map((json.categories as { id: number; name: string }[]).map((c) => [c.id, c.name]));
    for (const [i, obj] of sample.objects.entries()) {
      const ann = json.annotations[i] as { id: number; category_id: number; bbox: number[] };
      expect(obj.id).toBe(String(ann.id));
      expect(obj.categoryId).toBe(ann.category_id);
      expect(obj.category).toBe(cats.get(ann.category_id));
      expect(obj.isThing).toBe(true);
      expect(obj.isCrowd).toBe(false);
      expect(obj.bbox).toEqual(ann.bbox);
      expect(obj.annotation).toEqual(ann);
    }
    expect(sample.meta?.image).toEqual(json.images[0]);
    expect(sample.meta?.annotationFile).toBe(path.join('annotations', 'instances_val2017.json'));
    const categories = await reader.categories('val2017');
    expect(categories).toHaveLength(80);
    expect(categories[0]).toEqual({ id: 1, name: 'person', isThing: true, supercategory: 'person' });
  });

  it('decodes polygon masks at the image size, close to the polygon area', async () => {
    const reader = await coco.open(official);
    for (const split of ['train2017', 'val2017']) {
      for (const sample of okSamples(await collect(reader, split))) {
        for (const obj of sample.objects) {
          const rle = await obj.mask();
          expect([rle.height, rle.width]).toEqual([sample.height, sample.width]);
          // COCO's "area" of a polygon is the polygon's own area, not its pixel count; the
          // rasterised mask differs from it by about the boundary, so only closeness holds.
          const ann = obj.annotation as { area: number; bbox: number[] };
          const area = rleArea(rle);
          const perimeterBound = 2 * ((ann.bbox[2] as number) + (ann.bbox[3] as number)) + 4;
          expect(Math.abs(area - ann.area)).toBeLessThanOrEqual(perimeterBound);
          expect(area).toBeGreaterThan(0);
        }
      }
    }
  });
});

describe('COCO panoptic', () => {
  it('prefers instances by default and panoptic on request', async () => {
    const inst = await coco.open(panoptic);
    const [first] = okSamples(await collect(inst, 'val2017'));
    expect(first?.meta?.kind).toBe('instances');
    const pan = await cocoPanopticPlugin().open(panoptic);
    const [p] = okSamples(await collect(pan, 'val2017'));
    expect(p?.meta?.kind).toBe('panoptic');
  });

  it('reads segments from the PNG ids, exact to the segment area, with isthing and crowd', async () => {
    const json = await readJson(path.join(panoptic, 'annotations', 'panoptic_val2017.json'));
    const reader = await cocoPanopticPlugin().open(panoptic);
    const items = await collect(reader, 'val2017');
    expect(errors(items)).toEqual([]);
    const samples = okSamples(items);
    expect(samples.map((s) => s.id)).toEqual(['142238', '439180']);
    const isthing = new Map((json.categories as { id: number; isthing: number }[]).map((c) => [c.id, c.isthing === 1]));
    let crowd = 0;
    let stuff = 0;
    for (const sample of samples) {
      const ann = (json.annotations as { image_id: number; segments_info: { id: number; area: number; bbox: number[]; category_id: number; iscrowd: number }[] }[]).find(
        (a) => String(a.image_id) === sample.id,
      );
      expect(sample.objects.map((o) => o.id)).toEqual(ann?.segments_info.map((s) => String(s.id)));
      for (const [i, obj] of sample.objects.entries()) {
        const seg = ann?.segments_info[i] as { area: number; bbox: number[]; category_id: number; iscrowd: number };
        expect(obj.isThing).toBe(isthing.get(seg.category_id));
        expect(obj.isCrowd).toBe(seg.iscrowd === 1);
        const rle = await obj.mask();
        expect([rle.height, rle.width]).toEqual([sample.height, sample.width]);
        // panopticapi computes area and bbox from the PNG itself, so they are exact.
        expect(rleArea(rle)).toBe(seg.area);
        expect(rleToBbox(rle)).toEqual(seg.bbox);
        if (obj.isCrowd) crowd++;
        if (!obj.isThing) stuff++;
      }
    }
    expect(crowd).toBe(3);
    expect(stuff).toBeGreaterThan(0);
  });

  it('gives the same masks as the detection-format RLEs converted from the same PNGs', async () => {
    const det = await readJson(path.join(panoptic, 'annotations', 'instances_val2017.json'));
    const pan = okSamples(await collect(await cocoPanopticPlugin().open(panoptic), 'val2017'));
    for (const sample of pan) {
      const anns = det.annotations.filter((a) => String(a.image_id) === sample.id);
      expect(anns).toHaveLength(sample.objects.length);
      for (const [i, obj] of sample.objects.entries()) {
        const a = anns[i] as { segmentation: unknown; category_id: number };
        expect(obj.categoryId).toBe(a.category_id);
        const expected = rleDecode(rleFromSegmentation(a.segmentation, sample.height, sample.width));
        expect(Buffer.from(rleDecode(await obj.mask()).data).equals(Buffer.from(expected.data))).toBe(true);
      }
    }
  });

  it('fails the masks of a sample whose PNG has the wrong size, naming the PNG', async () => {
    const root = await tempDir('coco-pan-bad-');
    await fs.cp(panoptic, root, { recursive: true });
    const json = await readJson(path.join(root, 'annotations', 'panoptic_val2017.json'));
    (json.images[0] as { width: number }).width = 641;
    await writeJson(path.join(root, 'annotations', 'panoptic_val2017.json'), json);
    const [bad, good] = okSamples(await collect(await cocoPanopticPlugin().open(root), 'val2017')) as [Sample, Sample];
    const err = await bad.objects[0]?.mask().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SampleError);
    expect((err as SampleError).file).toBe(path.join(root, 'annotations', 'panoptic_val2017', '000000142238.png'));
    expect((err as SampleError).message).toMatch(/640x427.*641x427/);
    await expect(good.objects[0]?.mask()).resolves.toBeDefined();
  });
});

describe('crowd regions', () => {
  it('are kept as objects flagged crowd, with their RLE mask exact to the area', async () => {
    const det = await readJson(path.join(panoptic, 'annotations', 'instances_val2017.json'));
    const samples = okSamples(await collect(await coco.open(panoptic), 'val2017'));
    const objects = samples.flatMap((s) => s.objects);
    expect(objects).toHaveLength(det.annotations.length);
    const crowdIds = det.annotations.filter((a) => a.iscrowd === 1).map((a) => String(a.id));
    expect(crowdIds).toHaveLength(3);
    expect(objects.filter((o) => o.isCrowd).map((o) => o.id)).toEqual(crowdIds);
    for (const obj of objects) {
      // These RLEs were computed from pixels, so "area" is their exact pixel count.
      expect(rleArea(await obj.mask())).toBe((obj.annotation as { area: number }).area);
    }
  });
});

describe('Roboflow layout', () => {
  it('reads <split>/_annotations.coco.json with the images beside it', async () => {
    const root = await roboflowCopy();
    const reader = await coco.open(root);
    expect(await reader.splits()).toEqual(['valid']);
    const items = await collect(reader, 'valid');
    expect(errors(items)).toEqual([]);
    expect(okSamples(items)[0]?.image).toEqual({ kind: 'file', path: path.join(root, 'valid', '000000397133.jpg') });
    expect(okSamples(items)[0]?.meta?.layout).toBe('roboflow');
  });

  it('orders samples by image id, whatever the order in the file', async () => {
    const root = await roboflowCopy((json) => {
      const img = json.images[0] as Record<string, unknown>;
      json.images = [10, 2, 33, 1].map((id) => ({ ...img, id }));
    });
    const items = await collect(await coco.open(root), 'valid');
    expect(okSamples(items).map((s) => s.id)).toEqual(['1', '2', '10', '33']);
    // The annotations all point to image 397133, which is no longer there: reported once.
    expect(errors(items).map((e) => e.code)).toEqual(['MISSING_IMAGE']);
  });
});

describe('bad input: each yields a SampleError naming the file', () => {
  it('annotation JSON that does not parse: one error for the split', async () => {
    const root = await roboflowCopy();
    const file = path.join(root, 'valid', '_annotations.coco.json');
    await fs.writeFile(file, '{"images": [');
    const reader = await coco.open(root);
    const items = await collect(reader, 'valid');
    expect(items).toHaveLength(1);
    expect(items[0]).toBeInstanceOf(SampleError);
    expect((items[0] as SampleError).file).toBe(file);
    expect((items[0] as SampleError).reason).toMatch(/not valid JSON/);
    await expect(reader.categories('valid')).rejects.toBeInstanceOf(SampleError);
  });

  it.each(['images', 'annotations', 'categories'])('annotation JSON without "%s"', async (key) => {
    const root = await roboflowCopy((json) => {
      delete json[key];
    });
    const items = await collect(await coco.open(root), 'valid');
    expect(items).toHaveLength(1);
    expect((items[0] as SampleError).file).toBe(path.join(root, 'valid', '_annotations.coco.json'));
    expect((items[0] as SampleError).reason).toContain(`"${key}"`);
  });

  it('annotation JSON over the size limit', async () => {
    const root = await roboflowCopy();
    const items = await collect(await cocoPlugin({ maxJsonBytes: 1000 }).open(root), 'valid');
    expect(items).toHaveLength(1);
    expect((items[0] as SampleError).reason).toMatch(/over the limit of 1000 bytes/);
  });

  it.each([['../../../../etc/passwd'], ['/etc/passwd'], ['C:\\Windows\\win.ini'], ['sub/../../../outside.jpg']])(
    'file_name %s leading out of the root is refused without being read',
    async (name) => {
      const root = await roboflowCopy((json) => {
        (json.images[0] as Record<string, unknown>).file_name = name;
      });
      const items = await collect(await coco.open(root), 'valid');
      expect(items).toHaveLength(1);
      const err = items[0] as SampleError;
      expect(err).toBeInstanceOf(SampleError);
      expect(err.file).toBe(path.join(root, 'valid', '_annotations.coco.json'));
      expect(err.sampleId).toBe('397133');
      expect(err.reason).toMatch(/refused/);
    },
  );

  it('a symlink leading out of the root is refused unless followSymlinks', async () => {
    const outside = await tempDir('outside-');
    await fs.copyFile(valImage, path.join(outside, 'real.jpg'));
    const root = await roboflowCopy((json) => {
      (json.images[0] as Record<string, unknown>).file_name = 'link.jpg';
    });
    await fs.symlink(path.join(outside, 'real.jpg'), path.join(root, 'valid', 'link.jpg'));
    const refused = await collect(await coco.open(root), 'valid');
    expect((refused[0] as SampleError).reason).toMatch(/symbolic link leading outside/);
    const followed = await collect(await coco.open(root, { followSymlinks: true }), 'valid');
    expect(okSamples(followed)).toHaveLength(1);
    // A link that stays inside the root is fine either way.
    await fs.rm(path.join(root, 'valid', 'link.jpg'));
    await fs.symlink('000000397133.jpg', path.join(root, 'valid', 'link.jpg'));
    expect(okSamples(await collect(await coco.open(root), 'valid'))).toHaveLength(1);
  });

  it('missing image file', async () => {
    const root = await roboflowCopy();
    await fs.rm(path.join(root, 'valid', '000000397133.jpg'));
    const items = await collect(await coco.open(root), 'valid');
    expect((items[0] as SampleError).reason).toMatch(/file not found: .*000000397133\.jpg/);
  });

  it('duplicate image ids fail every record with that id; other images go on', async () => {
    const root = await roboflowCopy((json) => {
      const img = json.images[0] as Record<string, unknown>;
      json.images.push({ ...img, file_name: 'other.jpg' }, { ...img, id: 5 });
    });
    const items = await collect(await coco.open(root), 'valid');
    expect(okSamples(items).map((s) => s.id)).toEqual(['5']);
    expect(errors(items).map((e) => [e.code, e.sampleId])).toEqual([
      ['DUPLICATE_IMAGE_ID', '397133'],
      ['DUPLICATE_IMAGE_ID', '397133'],
    ]);
  });

  it('an annotation with an unknown category fails its sample', async () => {
    const root = await roboflowCopy((json) => {
      (json.annotations[3] as Record<string, unknown>).category_id = 999;
    });
    const items = await collect(await coco.open(root), 'valid');
    expect((items[0] as SampleError).reason).toMatch(/annotation 693231 .*category_id 999/);
  });

  it.each([
    ['a polygon with fewer than 3 points', [[1, 2, 3, 4]]],
    ['RLE counts that do not sum to h*w', { size: [427, 640], counts: [10, 20] }],
    ['RLE of another size', { size: [10, 10], counts: [100] }],
    ['no segmentation at all', undefined],
  ])('%s: mask() rejects with the file and the annotation id', async (_what, segmentation) => {
    const root = await roboflowCopy((json) => {
      (json.annotations[1] as Record<string, unknown>).segmentation = segmentation;
    });
    const [sample] = okSamples(await collect(await coco.open(root), 'valid')) as [Sample];
    await expect(sample.objects[0]?.mask()).resolves.toBeDefined();
    const err = (await sample.objects[1]?.mask().catch((e: unknown) => e)) as SampleError;
    expect(err).toBeInstanceOf(SampleError);
    expect(err.file).toBe(path.join(root, 'valid', '_annotations.coco.json'));
    expect(err.reason).toMatch(/^annotation 119568 \(image 397133\)/);
  });

  it('asking for a split that does not exist is a configuration error', async () => {
    const reader = await coco.open(official);
    await expect(collect(reader, 'nope')).rejects.toThrow(/no split "nope"/);
  });
});

describe('the real datasets in ../shared/data', () => {
  const facades = findSharedData('coco-facades');
  const instances = findSharedData('coco-instances-sample');
  const skip = (name: string) => it.skip(`${name}: ../shared/data/${name} not found beside the repository; skipped`, () => undefined);

  if (!facades) skip('coco-facades');
  else
    it('coco-facades: 598 images, 19,316 instances, every sample readable', async () => {
      const reader = await coco.open(facades);
      expect(await reader.splits()).toEqual(['test', 'train', 'valid']);
      const counts: Record<string, number> = {};
      let objects = 0;
      for (const split of await reader.splits()) {
        const items = await collect(reader, split);
        expect(errors(items).map((e) => e.message)).toEqual([]);
        const samples = okSamples(items);
        counts[split] = samples.length;
        const ids = samples.map((s) => Number(s.id));
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        objects += samples.reduce((n, s) => n + s.objects.length, 0);
        if (split === 'test') {
          for (const s of samples) for (const o of s.objects) expect(rleArea(await o.mask())).toBeGreaterThan(0);
        }
      }
      expect(counts).toEqual({ train: 407, valid: 108, test: 83 });
      expect(objects).toBe(19316);
      const cats = await reader.categories('test');
      // Category 0 is the export's unused placeholder; it is kept as the file defines it.
      expect(cats.map((c) => c.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }, 300_000);

  if (!instances) skip('coco-instances-sample');
  else
    it('coco-instances-sample: both splits, every mask decodes', async () => {
      const reader = await coco.open(instances);
      expect(await reader.splits()).toEqual(['train2017', 'val2017']);
      let n = 0;
      for (const split of await reader.splits()) {
        const items = await collect(reader, split);
        expect(errors(items)).toEqual([]);
        for (const s of okSamples(items)) {
          for (const o of s.objects) {
            await o.mask();
            n++;
          }
        }
      }
      expect(n).toBe(23);
    });
});

// The contract's generic rules, checked by the same harness a third-party plugin author uses.
describePluginConformance(coco, [
  { root: official, name: 'coco-official', expect: { splits: ['train2017', 'val2017'], sampleIds: { train2017: ['391895'], val2017: ['397133'] } } },
  { root: panoptic, name: 'coco-panoptic (instances)', expect: { splits: ['val2017'], minSamples: 2 } },
]);
describePluginConformance(cocoPanopticPlugin(), [{ root: panoptic, name: 'coco-panoptic', expect: { splits: ['val2017'], minSamples: 2 } }]);
