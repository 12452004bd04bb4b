import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { PLUGIN_CONTRACT_VERSION, SampleError, rleDecode, rleToBbox, type Sample } from '@unseg/core';
import { collectSamples, copyFixture, describePluginConformance, findSharedData, okSamples, sampleErrors } from '@unseg/core/testing';
import cityscapes, { CITYSCAPES_LABELS, cityscapesPlugin, type CityscapesObjectAnnotation } from './index.js';

const root = fileURLToPath(new URL('./test-fixtures/cityscapes', import.meta.url));
const stem = 'frankfurt_000000_000294';
const gt = (r: string, kind: string): string => path.join(r, 'gtFine', 'val', 'frankfurt', `${stem}_gtFine_${kind}.png`);

/** One channel of a grey PNG as numbers; 16-bit files keep their 16 bits. */
async function pixels(file: string): Promise<Uint16Array> {
  const meta = await sharp(file).metadata();
  if (meta.depth === 'ushort') {
    const buf = await sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer();
    return new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  }
  return Uint16Array.from(await sharp(file).extractChannel(0).raw().toBuffer());
}

async function only(r: string, plugin = cityscapes): Promise<Sample> {
  const items = await collectSamples(await plugin.open(r), 'val');
  expect(sampleErrors(items)).toEqual([]);
  expect(items).toHaveLength(1);
  return items[0] as Sample;
}

async function firstItem(r: string): Promise<Sample | SampleError> {
  const [item] = await collectSamples(await cityscapes.open(r), 'val');
  return item as Sample | SampleError;
}

describe('plugin object and label table', () => {
  it('declares its name, contract and package version', async () => {
    const pkg = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    expect([cityscapes.name, cityscapes.contract, cityscapes.version, pkg.name]).toEqual(['cityscapes', PLUGIN_CONTRACT_VERSION, pkg.version, 'unseg-plugin-cityscapes']);
  });

  it('holds ids 0..33 with the 19 evaluated classes on trainIds 0..18 and the 8 instance classes', () => {
    expect(CITYSCAPES_LABELS.map((l) => l.id)).toEqual([...Array(34).keys()]);
    const evaluated = CITYSCAPES_LABELS.filter((l) => !l.ignoreInEval);
    expect(evaluated.map((l) => l.trainId)).toEqual([...Array(19).keys()]);
    expect(CITYSCAPES_LABELS.filter((l) => l.ignoreInEval).every((l) => l.trainId === 255)).toBe(true);
    expect(evaluated.filter((l) => l.hasInstances).map((l) => l.name)).toEqual(['person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle']);
  });

  it('lists the 19 evaluated categories by default, and 33 with includeIgnored', async () => {
    expect(await (await cityscapes.open(root)).categories('val')).toHaveLength(19);
    expect(await (await cityscapesPlugin({ includeIgnored: true }).open(root)).categories('val')).toHaveLength(33);
  });
});

describe('reading the fixture', () => {
  it('gives one object per instance from instanceIds, classes from labelIds', async () => {
    const sample = await only(root);
    expect([sample.id, sample.split, sample.width, sample.height]).toEqual([stem, 'val', 256, 128]);
    const instances = await pixels(gt(root, 'instanceIds'));
    const ids = [...new Set(instances)].filter((v) => v >= 1000).sort((a, b) => a - b);
    // The fixture has four people and three cars.
    expect(ids).toEqual([24000, 24001, 24002, 24003, 26000, 26001, 26002]);
    const things = sample.objects.filter((o) => o.isThing);
    expect(things.map((o) => o.id)).toEqual(ids.map(String));
    expect(things.map((o) => o.category)).toEqual(['person', 'person', 'person', 'person', 'car', 'car', 'car']);
    expect(things.every((o) => !o.isCrowd)).toBe(true);
    for (const obj of things) {
      const rle = await obj.mask();
      const mask = rleDecode(rle);
      let mismatches = 0;
      for (let i = 0; i < instances.length; i++) if ((instances[i] === Number(obj.id) ? 1 : 0) !== mask.data[i]) mismatches++;
      expect(mismatches).toBe(0);
      expect(rleToBbox(rle)).toEqual(obj.bbox);
    }
  });

  it('agrees with labelTrainIds, a file it does not read: each trainId is the union of its objects, 255 is no object', async () => {
    const sample = await only(root);
    const train = await pixels(gt(root, 'labelTrainIds'));
    const covered = new Int16Array(train.length).fill(-1);
    for (const obj of sample.objects) {
      const { trainId, ignoreInEval } = obj.annotation as CityscapesObjectAnnotation;
      expect(ignoreInEval).toBe(false);
      const mask = rleDecode(await obj.mask());
      for (let i = 0; i < mask.data.length; i++) {
        if (!mask.data[i]) continue;
        expect(covered[i]).toBe(-1);
        covered[i] = trainId;
      }
    }
    let mismatches = 0;
    for (let i = 0; i < train.length; i++) if ((train[i] === 255 ? -1 : train[i]) !== covered[i]) mismatches++;
    // The sample's three PNGs were downscaled separately (nearest neighbour), so 77 boundary
    // pixels (0.23%) disagree between labelIds and labelTrainIds themselves; a wrong class or
    // trainId mapping would disagree on whole regions.
    expect(mismatches).toBeLessThanOrEqual(train.length * 0.005);
    expect(mismatches).toBe(77);
  });

  it('with includeIgnored, also yields the void regions, flagged ignoreInEval', async () => {
    const all = await only(root, cityscapesPlugin({ includeIgnored: true }));
    const extra = all.objects.filter((o) => (o.annotation as CityscapesObjectAnnotation).ignoreInEval).map((o) => o.category);
    expect(extra).toEqual(['ego vehicle', 'rectification border', 'out of roi', 'static']);
    expect(all.objects.some((o) => o.categoryId === 0)).toBe(false);
  });
});

describe('bad input: each yields a SampleError naming the file', () => {
  it('labelIds as an RGB PNG', async () => {
    const r = await copyFixture(root);
    await sharp(Buffer.alloc(256 * 128 * 3, 7), { raw: { width: 256, height: 128, channels: 3 } }).png().toFile(gt(r, 'labelIds'));
    const bad = (await firstItem(r)) as SampleError;
    expect(bad).toBeInstanceOf(SampleError);
    expect(bad.file).toBe(gt(r, 'labelIds'));
    expect(bad.reason).toMatch(/single-channel uchar PNG/);
  });

  it('a label id above 33', async () => {
    const r = await copyFixture(root);
    await sharp(Buffer.alloc(256 * 128, 40), { raw: { width: 256, height: 128, channels: 1 } }).toColourspace('b-w').png().toFile(gt(r, 'labelIds'));
    expect(((await firstItem(r)) as SampleError).reason).toMatch(/label id 40/);
  });

  it('instanceIds that contradict labelIds', async () => {
    const r = await copyFixture(root);
    // All road (7) in labelIds, while instanceIds still holds people and cars.
    await sharp(Buffer.alloc(256 * 128, 7), { raw: { width: 256, height: 128, channels: 1 } }).toColourspace('b-w').png().toFile(gt(r, 'labelIds'));
    const bad = (await firstItem(r)) as SampleError;
    expect(bad.file).toBe(gt(r, 'instanceIds'));
    expect(bad.reason).toMatch(/instance id \d+ \(class \d+\) but label id 7/);
  });

  it('a missing instanceIds file, and a label file of another size', async () => {
    const r = await copyFixture(root);
    await fs.rm(gt(r, 'instanceIds'));
    const missing = (await firstItem(r)) as SampleError;
    expect([missing.file, missing.code]).toEqual([gt(r, 'instanceIds'), 'MISSING_ANNOTATION']);
    const r2 = await copyFixture(root);
    await sharp(Buffer.alloc(100 * 50, 7), { raw: { width: 100, height: 50, channels: 1 } }).toColourspace('b-w').png().toFile(gt(r2, 'labelIds'));
    expect(((await firstItem(r2)) as SampleError).reason).toBe('is 100x50 but the image is 256x128');
  });
});

// The generic contract rules, through the same harness the documentation tells authors to use.
describePluginConformance(cityscapes, [{ root, name: 'the bundled fixture', expect: { splits: ['val'], sampleIds: { val: [stem] } } }]);
describePluginConformance(cityscapesPlugin({ includeIgnored: true }), [{ root, name: 'the bundled fixture, includeIgnored', mutations: false }]);

describe('the real sample in ../shared/data', () => {
  const shared = findSharedData('cityscapes-sample');
  if (!shared) it.skip('cityscapes-sample: ../shared/data/cityscapes-sample not found beside the repository; skipped', () => undefined);
  else
    it('cityscapes-sample: detected and read like the bundled copy', async () => {
      expect(await cityscapes.detect(shared)).toBe(true);
      const [a, b] = [await only(shared), await only(root)];
      expect(okSamples([a]).map((s) => s.objects.map((o) => o.id))).toEqual([b.objects.map((o) => o.id)]);
    });
});
