import { decodeRgb } from '../image/codec.js';
import { createNoNoiseSource, createUniformNoiseSource } from '../noise/baseline.js';
import { NO_OBJECT, type NoiseSource } from '../noise/types.js';
import { rleDecode, rleEncode, rleFromString } from '../masks/index.js';
import { SampleError } from '../errors.js';
import type { Sample, SampleObject } from '../plugin/types.js';
import { protect } from './pipeline.js';
import { tinyReader } from './test-helpers/tiny-dataset.js';

const budget = { epsFg: 8 / 255, epsBg: 2 / 255 };

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('protect', () => {
  it('publishes every sample within its per-region budget, in order', async () => {
    const reader = await tinyReader({ count: 5 });
    const out = await collect(protect(reader.samples('train'), { noise: createUniformNoiseSource({ seed: 1 }), budget, concurrency: 2 }));
    expect(out.map((o) => o.kind)).toEqual(Array(5).fill('published'));
    for (const [i, o] of out.entries()) {
      if (o.kind !== 'published') throw new Error('unreachable');
      expect(o.record.position).toBe(i);
      expect(o.record.noise.maxAbsFg).toBeLessThanOrEqual(8);
      expect(o.record.noise.maxAbsBg).toBeLessThanOrEqual(2);
      // Uniform noise reaches the budget somewhere in a few hundred pixels.
      expect(o.record.noise.maxAbsFg).toBeGreaterThan(2);
      // The crowd box is not in the prompt: the prompt is only the 8x6 box.
      expect(o.record.noise.promptFraction).toBeCloseTo(48 / (24 * 16), 6);
      expect(o.record.objects).toHaveLength(2);
      expect(o.record.image.path).toBe(`images/img00${i}.png`);
      const mask = rleDecode(rleFromString(o.record.objects[0]!.rle, 16, 24));
      expect(mask.data.reduce((a, b) => a + b, 0)).toBe(48);
    }
  });

  it('keys class-wise noise by the smaller object where objects overlap, whatever their order', async () => {
    const reader = await tinyReader({ count: 1 });
    const [sample] = await collect(reader.samples('train'));
    if (!sample || sample instanceof SampleError) throw new Error('expected a sample');
    const box = (id: string, categoryId: number, x0: number, y0: number, x1: number, y1: number): SampleObject => {
      const data = new Uint8Array(24 * 16);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * 24 + x] = 1;
      const rle = rleEncode({ width: 24, height: 16, data });
      return { id, categoryId, category: `c${categoryId}`, isThing: true, isCrowd: false, mask: async () => rle, annotation: null };
    };
    // The window is listed before the facade it lies on, as annotators often draw them.
    const objects = [box('window', 7, 4, 4, 8, 8), box('facade', 3, 0, 0, 20, 12)];
    let seen: Int32Array | undefined;
    const capture: NoiseSource = {
      name: 'capture',
      description: 'records the labels it is given',
      batchSize: 1,
      needsLabels: true,
      async generate(batch) {
        seen = batch[0]!.labels;
        return batch.map((r) => new Float32Array(r.image.width * r.image.height * 3));
      },
    };
    const overlapping: Sample = { ...sample, objects };
    async function* one() {
      yield overlapping;
    }
    const [out] = await collect(protect(one(), { noise: capture, budget }));
    expect(out?.kind).toBe('published');
    expect(seen?.[5 * 24 + 5]).toBe(7);
    expect(seen?.[1 * 24 + 1]).toBe(3);
    expect(seen?.[14 * 24 + 22]).toBe(NO_OBJECT);
  });

  it('re-decodes the published bytes: the stored image is the original plus bounded noise', async () => {
    const reader = await tinyReader({ count: 1 });
    const [clean] = await collect(protect(reader.samples('train'), { noise: createNoNoiseSource(), budget }));
    if (clean?.kind !== 'published') throw new Error('expected a published record');
    expect(clean.record.noise.psnr).toBe(Infinity);
    const published = await decodeRgb(clean.record.image.bytes);
    expect(published.image.width).toBe(24);
  });

  it('names the file and the problem for bad samples, and goes on', async () => {
    const reader = await tinyReader({ count: 5, corrupt: [1], wrongSize: [3], readerErrors: [4] });
    const out = await collect(protect(reader.samples('train'), { noise: createNoNoiseSource(), budget }));
    expect(out.map((o) => o.kind)).toEqual(['published', 'failed', 'published', 'failed', 'failed']);
    const failures = out.flatMap((o) => (o.kind === 'failed' ? [o.failure] : []));
    expect(failures[0]).toMatchObject({ file: 'images/img001.png', code: 'IMAGE_INVALID', position: 1 });
    expect(failures[1]).toMatchObject({ file: 'images/img003.png', code: 'SIZE_MISMATCH' });
    expect(failures[1]!.reason).toMatch(/image is 24x16 but its annotation says 25x16/);
    expect(failures[2]).toMatchObject({ file: 'ann/img004.json', id: 'img004' });
  });

  it('refuses to publish bytes that break the budget (lossy JPEG adds error beyond 2/255)', async () => {
    const reader = await tinyReader({ count: 2 });
    const out = await collect(
      protect(reader.samples('train'), { noise: createNoNoiseSource(), budget, encode: { format: 'jpeg', quality: 30 } }),
    );
    for (const o of out) {
      expect(o.kind).toBe('failed');
      if (o.kind === 'failed') {
        expect(o.failure.code).toBe('BUDGET_EXCEEDED');
        expect(o.failure.reason).toMatch(/breaks the noise budget/);
      }
    }
  });

  it('hands the noise source batches of its preferred size', async () => {
    const sizes: number[] = [];
    const inner = createNoNoiseSource();
    const batching: NoiseSource = { ...inner, batchSize: 3, generate: async (b) => (sizes.push(b.length), inner.generate(b)) };
    const reader = await tinyReader({ count: 7 });
    await collect(protect(reader.samples('train'), { noise: batching, budget }));
    expect(sizes).toEqual([3, 3, 1]);
  });

  it('hands each batch of directions back to the source once they are applied', async () => {
    const inner = createUniformNoiseSource({ seed: 2 });
    const handedOut: Float32Array[][] = [];
    const released: (readonly Float32Array[])[] = [];
    const source: NoiseSource = {
      ...inner,
      batchSize: 2,
      generate: async (b) => {
        // The previous batch must be back before the next one is asked for: nothing is held.
        expect(released.length).toBe(handedOut.length);
        const d = await inner.generate(b);
        handedOut.push(d);
        return d;
      },
      release: (d) => released.push(d),
    };
    const reader = await tinyReader({ count: 5 });
    const out = await collect(protect(reader.samples('train'), { noise: source, budget }));
    expect(out.every((o) => o.kind === 'published')).toBe(true);
    expect(released).toHaveLength(3);
    released.forEach((d, i) => expect(d).toBe(handedOut[i]));
  });

  it('reports the busy time of each stage, per image and per noise batch', async () => {
    const seen: { stage: string; ms: number; images: number }[] = [];
    const inner = createNoNoiseSource();
    const reader = await tinyReader({ count: 7, corrupt: [2] });
    const out = await collect(
      protect(reader.samples('train'), { noise: { ...inner, batchSize: 3 }, budget, listener: { onStage: (i) => seen.push(i) } }),
    );
    expect(out.filter((o) => o.kind === 'published')).toHaveLength(6);
    const count = (stage: string) => seen.filter((s) => s.stage === stage).length;
    // The undecodable image costs a decode attempt but reaches no later stage, so it is not timed.
    for (const stage of ['decode', 'masks', 'apply', 'encode', 'verify']) expect([stage, count(stage)]).toEqual([stage, 6]);
    // Batches are formed before decoding fails or succeeds: [0,1,2] holds the bad one.
    expect(seen.filter((s) => s.stage === 'noise').map((s) => s.images)).toEqual([2, 3, 1]);
    expect(seen.every((s) => Number.isFinite(s.ms) && s.ms >= 0)).toBe(true);
  });
});

describe('failures in the manifest', () => {
  it('name the file relative to the dataset root, not the publisher disk', async () => {
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-rel-'));
    await fs.mkdir(path.join(root, 'train'));
    await fs.writeFile(path.join(root, 'train', 'broken.jpg'), 'not a jpeg');
    async function* one() {
      yield { id: 'b', split: 'train', image: { kind: 'file' as const, path: path.join(root, 'train', 'broken.jpg') }, width: 4, height: 4, objects: [] };
    }
    const [out] = await collect(protect(one(), { noise: createNoNoiseSource(), budget, root }));
    expect(out).toMatchObject({ kind: 'failed', failure: { file: 'train/broken.jpg', code: 'IMAGE_INVALID' } });
    await fs.rm(root, { recursive: true, force: true });
  });
});
