// The plugin readers fed mutated annotation files (fast-check): values replaced by arbitrary
// JSON, keys deleted, arrays emptied or duplicated, the text cut or bytes flipped. Whatever the
// file holds, reading every sample and decoding every mask may only produce the documented
// errors (SampleError for the sample or file, ConfigError for setup): never a TypeError, a
// RangeError from deep inside, a hang, or a read outside the root.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, rleEncode, rleToString, SampleError, type DatasetPlugin } from '@unseg/core';
import { cocoPlugin } from '@unseg/plugin-coco';
import sa1b from '@unseg/plugin-sa1b';
import { boxPolygon, CATEGORIES, H, pngBytes, W } from './test-helpers/coco-fixtures.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

let tmp: string;
let png: Buffer;
let jpg: Buffer;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-fuzz-'));
  png = await pngBytes(1);
  jpg = await (await import('sharp')).default(png).jpeg().toBuffer();
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function boxRle(x0: number, y0: number, x1: number, y1: number): string {
  const data = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * W + x] = 1;
  return rleToString(rleEncode({ width: W, height: H, data }));
}

function validCoco(): Json {
  return {
    images: [
      { id: 1, file_name: 'a.png', width: W, height: H },
      { id: 2, file_name: 'b.png', width: W, height: H },
    ],
    annotations: [
      { id: 10, image_id: 1, category_id: 1, segmentation: boxPolygon(2, 2, 12, 10), iscrowd: 0, bbox: [2, 2, 10, 8], area: 80 },
      { id: 11, image_id: 1, category_id: 2, segmentation: { size: [H, W], counts: boxRle(14, 4, 30, 20) }, iscrowd: 1, bbox: [14, 4, 16, 16], area: 256 },
      { id: 12, image_id: 2, category_id: 1, segmentation: { size: [H, W], counts: [W * 2, 10, W * H - W * 2 - 10] }, iscrowd: 0, bbox: [0, 2, 10, 1], area: 10 },
    ],
    // A copy: mutations edit the document in place.
    categories: structuredClone(CATEGORIES) as unknown as Json,
  };
}

function validSa1b(): Json {
  return {
    image: { image_id: 1, width: W, height: H, file_name: 'sa_1.jpg' },
    annotations: [
      {
        id: 1,
        segmentation: { size: [H, W], counts: boxRle(3, 3, 9, 9) },
        area: 36,
        bbox: [3, 3, 6, 6],
        predicted_iou: 0.9,
        point_coords: [[5, 5]],
        stability_score: 0.95,
        crop_box: [0, 0, W, H],
      },
    ],
  };
}

/** Every path to a value in the document, so a mutation can hit any depth. */
function paths(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

type Mutation =
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'cut'; at: number }
  | { kind: 'flip'; at: number; byte: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> }),
  // Values that hit the validators' edges: huge, negative, fractional, wrong type.
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    value: fc.constantFrom<Json>(-1, 0, 0.5, 1e12, 2 ** 53, '', '../../etc/passwd', '/etc/passwd', [], {}, null, [1, 2], 'x'.repeat(1000)),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(doc: Json, mutations: readonly Mutation[]): string {
  let text: string | undefined;
  for (const m of mutations) {
    if (m.kind === 'cut' || m.kind === 'flip') {
      text ??= JSON.stringify(doc);
      const i = m.at % Math.max(1, text.length);
      text = m.kind === 'cut' ? text.slice(0, i) : text.slice(0, i) + String.fromCharCode(m.byte) + text.slice(i + 1);
      continue;
    }
    if (text !== undefined) continue; // structural edits only apply before the text is broken
    const all = paths(doc);
    const p = all[m.at % all.length]!;
    if (p.length === 0) {
      if (m.kind === 'replace') doc = m.value;
      continue;
    }
    let parent = doc as Record<string | number, Json>;
    for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
    const key = p[p.length - 1]!;
    if (m.kind === 'replace') parent[key] = m.value;
    else if (m.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (Array.isArray(parent)) parent.push(structuredClone(parent[key] as Json));
    else parent[`${String(key)}_copy`] = structuredClone(parent[key] as Json);
  }
  return text ?? JSON.stringify(doc);
}

/** Reads everything a run would: splits, categories, samples, every mask. */
const seen = { samples: 0, masks: 0, errors: 0 };
async function readAll(plugin: DatasetPlugin, root: string): Promise<void> {
  const documented = (e: unknown) => e instanceof SampleError || e instanceof ConfigError;
  const guard = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      if (documented(e)) {
        seen.errors++;
        return undefined;
      }
      throw e;
    }
  };
  const reader = await guard(() => plugin.open(root));
  if (!reader) return;
  for (const split of (await guard(() => reader.splits())) ?? []) {
    await guard(() => reader.categories(split));
    await guard(async () => {
      for await (const item of reader.samples(split)) {
        if (item instanceof SampleError) {
          seen.errors++;
          continue;
        }
        seen.samples++;
        expect(path.relative(root, item.image.kind === 'file' ? item.image.path : root).startsWith('..')).toBe(false);
        for (const o of item.objects) if (await guard(() => o.mask())) seen.masks++;
      }
    });
  }
}

let n = 0;
describe('plugin readers on mutated annotation files', () => {
  it('coco: only SampleError / ConfigError, whatever the JSON holds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        const root = path.join(tmp, `coco-${n++}`);
        await fs.mkdir(path.join(root, 'annotations'), { recursive: true });
        await fs.mkdir(path.join(root, 'train'));
        await fs.writeFile(path.join(root, 'train', 'a.png'), png);
        await fs.writeFile(path.join(root, 'train', 'b.png'), png);
        await fs.writeFile(path.join(root, 'annotations', 'instances_train.json'), mutate(validCoco(), mutations));
        await readAll(cocoPlugin(), root);
        await fs.rm(root, { recursive: true, force: true });
      }),
      { numRuns: 150, seed: 7 },
    );
    // Mutations must leave some files readable and break others, or the property says little.
    expect(seen.samples).toBeGreaterThan(50);
    expect(seen.masks).toBeGreaterThan(50);
    expect(seen.errors).toBeGreaterThan(50);
  }, 60_000);

  it('sa1b: only SampleError / ConfigError, whatever the JSON holds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        const root = path.join(tmp, `sa1b-${n++}`);
        await fs.mkdir(path.join(root, 'sa_000000'), { recursive: true });
        await fs.writeFile(path.join(root, 'sa_000000', 'sa_1.jpg'), jpg);
        await fs.writeFile(path.join(root, 'sa_000000', 'sa_1.json'), mutate(validSa1b(), mutations));
        await readAll(sa1b, root);
        await fs.rm(root, { recursive: true, force: true });
      }),
      { numRuns: 100, seed: 11 },
    );
  }, 60_000);

  it('the unmutated files read without any error (the property is not vacuous)', async () => {
    const root = path.join(tmp, 'clean');
    await fs.mkdir(path.join(root, 'annotations'), { recursive: true });
    await fs.mkdir(path.join(root, 'train'));
    await fs.writeFile(path.join(root, 'train', 'a.png'), png);
    await fs.writeFile(path.join(root, 'train', 'b.png'), png);
    await fs.writeFile(path.join(root, 'annotations', 'instances_train.json'), JSON.stringify(validCoco()));
    const reader = await cocoPlugin().open(root);
    let masks = 0;
    for await (const item of reader.samples('train')) {
      if (item instanceof SampleError) throw item;
      for (const o of item.objects) if ((await o.mask()).width === W) masks++;
    }
    expect(masks).toBe(3);
  });
});
