import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { PLUGIN_CONTRACT_VERSION, SampleError, rleArea, rleDecode, rleToBbox, type Sample } from '@unseg/core';
import ade20k, { ADE20K_CATEGORIES, ADE20K_CLASS_NAMES, ADE20K_THING_CLASSES } from './index.js';
import { fileURLToPath } from 'node:url';
import { collectSamples as collect, describePluginConformance, findSharedData, okSamples, sampleErrors as errors, tempDir, writeJson } from '@unseg/core/testing';

const fixtures = fileURLToPath(new URL('./test-fixtures', import.meta.url));

const ade = path.join(fixtures, 'ADEChallengeData2016');
const ids = ['ADE_val_00000001', 'ADE_val_00000002', 'ADE_val_00000003'];

/** The class index of every pixel, read through sharp's 3-channel expansion (a different path from the reader's). */
async function labelsOf(png: string): Promise<Uint8Array> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(info.width * info.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels] as number;
  return out;
}

async function copyFixture(): Promise<string> {
  const root = await tempDir('ade-');
  await fs.cp(ade, path.join(root, 'ADEChallengeData2016'), { recursive: true });
  return path.join(root, 'ADEChallengeData2016');
}

async function writeGrayPng(file: string, width: number, height: number, value: number): Promise<void> {
  await sharp(Buffer.alloc(width * height, value), { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toFile(file);
}

describe('plugin object and classes', () => {
  it('declares its name, contract and package version', async () => {
    const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect([ade20k.name, ade20k.contract, ade20k.version]).toEqual(['ade20k', PLUGIN_CONTRACT_VERSION, pkg.version]);
  });

  it('embeds exactly the 150 names of objectInfo150.txt, in index order', async () => {
    const rows = (await fs.readFile(path.join(ade, 'objectInfo150.txt'), 'utf8')).trim().split('\n').slice(1);
    expect(rows.map((r) => Number(r.split('\t')[0]))).toEqual(ADE20K_CLASS_NAMES.map((_, i) => i + 1));
    expect(rows.map((r) => r.split('\t')[4])).toEqual(ADE20K_CLASS_NAMES);
  });

  it('marks the 100 panoptic things, e.g. person and car, and not wall or sky', () => {
    expect(ADE20K_THING_CLASSES.size).toBe(100);
    const byName = new Map(ADE20K_CATEGORIES.map((c) => [c.name, c.isThing]));
    expect(byName.get('person, individual, someone, somebody, mortal, soul')).toBe(true);
    expect(byName.get('car, auto, automobile, machine, motorcar')).toBe(true);
    expect(byName.get('wall')).toBe(false);
    expect(byName.get('sky')).toBe(false);
  });
});

describe('detect', () => {
  it('accepts ADEChallengeData2016 and its parent', async () => {
    expect(await ade20k.detect(ade)).toBe(true);
    expect(await ade20k.detect(fixtures)).toBe(true);
    expect((await ade20k.open(fixtures)).root).toBe(ade);
  });

  it('rejects COCO, SA-1B, empty and missing folders', async () => {
    const coco = await tempDir('coco-');
    await writeJson(path.join(coco, 'annotations', 'instances_val2017.json'), {});
    await fs.mkdir(path.join(coco, 'images', 'val2017'), { recursive: true });
    const rf = await tempDir('rf-');
    await writeJson(path.join(rf, 'valid', '_annotations.coco.json'), {});
    const sa = await tempDir('sa-');
    await writeJson(path.join(sa, 'sa_000000', 'sa_1.json'), {});
    for (const root of [coco, rf, sa, await tempDir('empty-'), '/nonexistent/unseg']) expect(await ade20k.detect(root)).toBe(false);
  });
});

describe('reading the fixture', () => {
  it('has the validation split with its three samples in order', async () => {
    const reader = await ade20k.open(ade);
    expect(await reader.splits()).toEqual(['validation']);
    const items = await collect(reader, 'validation');
    expect(errors(items)).toEqual([]);
    const samples = okSamples(items);
    expect(samples.map((s) => s.id)).toEqual(ids);
    expect(samples[0]?.image).toEqual({ kind: 'file', path: path.join(ade, 'images', 'validation', 'ADE_val_00000001.jpg') });
    expect([samples[0]?.width, samples[0]?.height]).toEqual([683, 512]);
    expect(await reader.categories('validation')).toHaveLength(150);
  });

  it('gives one object per class present, with masks that tile the labelled pixels exactly', async () => {
    const samples = okSamples(await collect(await ade20k.open(ade), 'validation'));
    for (const sample of samples) {
      const labels = await labelsOf(path.join(ade, 'annotations', 'validation', `${sample.id}.png`));
      expect(labels.length).toBe(sample.width * sample.height);
      const present = [...new Set(labels)].filter((c) => c !== 0).sort((a, b) => a - b);
      expect(sample.objects.map((o) => o.categoryId)).toEqual(present);
      expect(present.length).toBeGreaterThan(1);
      for (const obj of sample.objects) {
        expect(obj.category).toBe(ADE20K_CLASS_NAMES[obj.categoryId - 1]);
        expect(obj.isThing).toBe(ADE20K_THING_CLASSES.has(obj.categoryId));
        expect(obj.isCrowd).toBe(false);
        const rle = await obj.mask();
        expect([rle.height, rle.width]).toEqual([sample.height, sample.width]);
        const mask = rleDecode(rle);
        let expected = 0;
        let mismatches = 0;
        for (let i = 0; i < labels.length; i++) {
          const want = labels[i] === obj.categoryId ? 1 : 0;
          expected += want;
          if (mask.data[i] !== want) mismatches++;
        }
        expect(mismatches).toBe(0);
        expect(rleArea(rle)).toBe(expected);
        expect((obj.annotation as { pixelCount: number }).pixelCount).toBe(expected);
        expect(rleToBbox(rle)).toEqual(obj.bbox);
      }
    }
  });
});

describe('bad input: each yields a SampleError naming the file', () => {
  const annPath = (root: string, id: string) => path.join(root, 'annotations', 'validation', `${id}.png`);
  const imgPath = (root: string, id: string) => path.join(root, 'images', 'validation', `${id}.jpg`);

  async function firstTwo(root: string): Promise<[Sample | SampleError, Sample | SampleError]> {
    const items = await collect(await ade20k.open(root), 'validation');
    expect(items).toHaveLength(3);
    return [items[0] as Sample | SampleError, items[1] as Sample | SampleError];
  }

  it('annotation PNG of another size than the JPEG', async () => {
    const root = await copyFixture();
    await writeGrayPng(annPath(root, ids[0] as string), 100, 50, 1);
    const [bad, good] = await firstTwo(root);
    expect(bad).toBeInstanceOf(SampleError);
    expect((bad as SampleError).file).toBe(annPath(root, ids[0] as string));
    expect((bad as SampleError).reason).toBe('annotation PNG is 100x50 but the image is 683x512');
    expect(good).not.toBeInstanceOf(SampleError);
  });

  it('an RGB PNG instead of class indices', async () => {
    const root = await copyFixture();
    await sharp(Buffer.alloc(683 * 512 * 3, 7), { raw: { width: 683, height: 512, channels: 3 } }).png().toFile(annPath(root, ids[0] as string));
    const [bad] = await firstTwo(root);
    expect((bad as SampleError).reason).toMatch(/8-bit single-channel/);
  });

  it('a class index above 150', async () => {
    const root = await copyFixture();
    await writeGrayPng(annPath(root, ids[0] as string), 683, 512, 200);
    const [bad] = await firstTwo(root);
    expect((bad as SampleError).reason).toMatch(/class index 200/);
  });

  it('a truncated and a zero-byte PNG', async () => {
    const root = await copyFixture();
    const png = annPath(root, ids[0] as string);
    const bytes = await fs.readFile(png);
    await fs.writeFile(png, bytes.subarray(0, bytes.length / 2));
    await fs.writeFile(annPath(root, ids[1] as string), '');
    const [a, b] = await firstTwo(root);
    expect((a as SampleError).file).toBe(png);
    expect((b as SampleError).file).toBe(annPath(root, ids[1] as string));
  });

  it('an image without annotation, and an annotation without image', async () => {
    const root = await copyFixture();
    await fs.rm(annPath(root, ids[0] as string));
    await fs.rm(imgPath(root, ids[1] as string));
    const [a, b] = await firstTwo(root);
    expect([(a as SampleError).file, (a as SampleError).code]).toEqual([imgPath(root, ids[0] as string), 'MISSING_ANNOTATION']);
    expect([(b as SampleError).file, (b as SampleError).code]).toEqual([annPath(root, ids[1] as string), 'MISSING_IMAGE']);
  });

  it('a symlinked image leading out of the root is refused unless followSymlinks', async () => {
    const root = await copyFixture();
    const outside = await tempDir('outside-');
    await fs.rename(imgPath(root, ids[0] as string), path.join(outside, 'x.jpg'));
    await fs.symlink(path.join(outside, 'x.jpg'), imgPath(root, ids[0] as string));
    const [bad] = await firstTwo(root);
    expect((bad as SampleError).reason).toMatch(/symbolic link leading outside/);
    const items = await collect(await ade20k.open(root, { followSymlinks: true }), 'validation');
    expect(errors(items)).toEqual([]);
  });
});

describe('the real dataset in ../shared/data', () => {
  const sample = findSharedData('ade20k-sample');
  if (!sample) it.skip('ade20k-sample: ../shared/data/ade20k-sample not found beside the repository; skipped', () => undefined);
  else
    it('ade20k-sample: every sample and mask reads', async () => {
      expect(await ade20k.detect(sample)).toBe(true);
      const reader = await ade20k.open(sample);
      const items = await collect(reader, 'validation');
      expect(errors(items)).toEqual([]);
      const samples = okSamples(items);
      expect(samples.map((s) => s.id)).toEqual(ids);
      for (const s of samples) {
        let total = 0;
        for (const o of s.objects) total += rleArea(await o.mask());
        expect(total).toBeGreaterThan(0);
        expect(total).toBeLessThanOrEqual(s.width * s.height);
      }
    });
});

// The contract's generic rules, checked by the same harness a third-party plugin author uses.
describePluginConformance(ade20k, [{ root: ade, expect: { splits: ['validation'], sampleIds: { validation: ids } } }]);
