import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { classCodeOf, loadClassCodes, parseClassCodes } from './class-codes.js';
import { createClasswiseNoiseSource } from './classwise.js';
import { createNoiseSource } from './registry.js';
import { NO_OBJECT, type NoiseRequest } from './types.js';

/** A 1x2-cell code per channel: [[a, b]], [[c, d]], [[e, f]]. */
const code = (v: number[]) => [[[v[0], v[1]]], [[v[2], v[3]]], [[v[4], v[5]]]];
const DOC = {
  format: 'unseg-class-codes',
  version: 1,
  cellSize: 2,
  codes: [code([1, -1, 0.5, -0.5, 0, 1]), code([-1, 1, -0.5, 0.5, 1, 0])],
  background: code([0.25, -0.25, 0.25, -0.25, 0.25, -0.25]),
  provenance: { tool: 'test' },
};

function request(width: number, height: number, labels: Int32Array): NoiseRequest {
  const image = { width, height, data: new Uint8Array(width * height * 3).fill(100) };
  const prompt = { width, height, data: Uint8Array.from(labels, (l) => (l !== NO_OBJECT ? 1 : 0)) };
  return { id: 'x', image, prompt, labels };
}

describe('parseClassCodes', () => {
  it('reads the codes channel-major and the background, and assigns category l the code (l - 1) mod n', () => {
    const codes = parseClassCodes(DOC, 'c.json', 'd');
    expect(codes).toMatchObject({ cellSize: 2, rows: 1, cols: 2, digest: 'd', file: 'c.json' });
    expect(Array.from(codes.codes[0]!)).toEqual([1, -1, 0.5, -0.5, 0, 1]);
    expect(Array.from(classCodeOf(codes, NO_OBJECT)!)).toEqual([0.25, -0.25, 0.25, -0.25, 0.25, -0.25]);
    // Category 0 (classes numbered from 0) is a class: the last code, as (0 - 1) mod n says.
    expect(classCodeOf(codes, 0)).toBe(codes.codes[1]);
    expect(classCodeOf(codes, 1)).toBe(codes.codes[0]);
    expect(classCodeOf(codes, 2)).toBe(codes.codes[1]);
    expect(classCodeOf(codes, 3)).toBe(codes.codes[0]);
    expect(classCodeOf(parseClassCodes({ ...DOC, background: undefined }, 'c.json', 'd'), NO_OBJECT)).toBeUndefined();
    expect(classCodeOf(parseClassCodes({ ...DOC, background: null }, 'c.json', 'd'), NO_OBJECT)).toBeUndefined();
  });

  it.each([
    [{ ...DOC, format: 'other' }, /"format" is "other"/],
    [{ ...DOC, format: undefined }, /"format" is missing/],
    [{ ...DOC, version: 2 }, /"version" is 2, not one this version reads/],
    [{ ...DOC, cellSize: 1.5 }, /"cellSize" must be an integer from 1 to 65536 \(image pixels per cell\), got 1.5/],
    [{ ...DOC, cellSize: 1e300 }, /"cellSize" must be an integer from 1 to 65536/],
    [{ ...DOC, codes: [] }, /"codes" must be a non-empty array/],
    [{ ...DOC, codes: [[[[1]], [[1]]]] }, /code 0 \(every category\) must have 3 channels/],
    [{ ...DOC, codes: [code([1, 1, 1, 1, 1, 1]), [[[1]], [[1]], [[1]]]] }, /code 1 \(categories 2, 4, ...\) is 1x1, the first code 1x2/],
    [{ ...DOC, codes: [code([1, 1, 1, 2, 1, 1])] }, /code 0 \(every category\), channel 1, row 0, column 1: directions must be numbers in \[-1, 1\], got 2/],
    [{ ...DOC, codes: [code([1, 1, 1, Number.NaN, 1, 1])] }, /directions must be numbers in \[-1, 1\], got null/],
    [{ ...DOC, background: [[[1]], [[1]], [[1]]] }, /"background" is 1x1, the first code 1x2/],
    [[1, 2], /not a JSON object/],
  ])('refuses a malformed file, naming it and the problem (%#)', (doc, message) => {
    // JSON-round-trip, as a file would come: NaN becomes null.
    const parse = () => parseClassCodes(JSON.parse(JSON.stringify(doc)), 'bad.json', 'd');
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/^class codes bad\.json: /);
    expect(parse).toThrow(message);
  });
});

describe('loadClassCodes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'unseg-codes-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('digests the bytes, so two files of other codes never pass for one another', async () => {
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    await writeFile(a, JSON.stringify(DOC));
    await writeFile(b, JSON.stringify({ ...DOC, codes: [DOC.codes[1], DOC.codes[0]] }));
    const [ca, cb, ca2] = await Promise.all([loadClassCodes(a), loadClassCodes(b), loadClassCodes(a)]);
    expect(ca.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(ca.digest).toBe(ca2.digest);
    expect(ca.digest).not.toBe(cb.digest);
  });

  it('names the file when it is missing or not JSON, and says so when --codes is empty', async () => {
    await expect(loadClassCodes(path.join(dir, 'none.json'))).rejects.toThrow(/class codes .*none\.json: cannot read it \(ENOENT\)/);
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"format": ');
    await expect(loadClassCodes(bad)).rejects.toThrow(/class codes .*bad\.json: not JSON/);
    await expect(loadClassCodes('')).rejects.toThrow('--codes is empty: give a class-codes file');
  });

  it('reads a file that starts with a byte-order mark', async () => {
    const bom = path.join(dir, 'bom.json');
    await writeFile(bom, '\uFEFF' + JSON.stringify(DOC));
    expect((await loadClassCodes(bom)).codes).toHaveLength(2);
  });
});

describe('the classwise source with learned codes', () => {
  it("tiles each class's code from the image's corner, cells cellSize px, and the background code where no object is", async () => {
    const codes = parseClassCodes(DOC, 'c.json', 'digest-1');
    const src = createClasswiseNoiseSource({ pattern: 'codes', codes });
    expect(src.settings).toEqual({ cellSize: 2, pattern: 'codes', codes: 'digest-1', overlap: 'smaller', categoryZero: 'coded' });
    // Row 0: class 1 on x 0-5, class 2 on x 6-7; row 1: background.
    const w = 8;
    const labels = Int32Array.from({ length: 2 * w }, (_, p) => (p >= w ? NO_OBJECT : p % w < 6 ? 1 : 2));
    const [out] = await src.generate([request(w, 2, labels)]);
    const at = (x: number, y: number) => Array.from(out!.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
    // Column cell = floor(x / 2) mod 2: cells 0, 1, 0 for class 1, cell 1 for class 2 (x 6-7).
    for (const x of [0, 1, 4, 5]) expect(at(x, 0)).toEqual([1, 0.5, 0]);
    for (const x of [2, 3]) expect(at(x, 0)).toEqual([-1, -0.5, 1]);
    for (const x of [6, 7]) expect(at(x, 0)).toEqual([1, 0.5, 0]);
    expect(at(0, 1)).toEqual([0.25, 0.25, 0.25]);
    expect(at(2, 1)).toEqual([-0.25, -0.25, -0.25]);
  });

  it('leaves pixels with no object without noise when the file has no background code, and --cell-size rescales the cells', async () => {
    const codes = parseClassCodes({ ...DOC, background: undefined }, 'c.json', 'd');
    const src = createClasswiseNoiseSource({ pattern: 'codes', codes, cellSize: 1, seed: 5 });
    expect(src.description).toMatch(/1px cells \(the file's: 2px\)\) per class inside each class's pixels$/);
    const labels = Int32Array.from([1, 1, NO_OBJECT, NO_OBJECT]);
    const [out] = await src.generate([request(4, 1, labels)]);
    expect(Array.from(out!)).toEqual([1, 0.5, 0, -1, -0.5, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('repeats a tile of several rows and columns down and across (rows, then columns; channel-major in the file)', async () => {
    // One code, 2 rows x 3 columns; channel c's value at (row r, col x) is 0.1 * (c * 6 + r * 3 + x) - 0.85.
    const value = (c: number, r: number, x: number) => Math.fround(0.1 * (c * 6 + r * 3 + x) - 0.85);
    const tile = [0, 1, 2].map((c) => [0, 1].map((r) => [0, 1, 2].map((x) => value(c, r, x))));
    const codes = parseClassCodes({ ...DOC, cellSize: 2, codes: [tile], background: undefined }, 'c.json', 'd');
    const src = createClasswiseNoiseSource({ pattern: 'codes', codes });
    const w = 14;
    const h = 10;
    const [out] = await src.generate([request(w, h, new Int32Array(w * h).fill(5))]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const r = Math.floor(y / 2) % 2;
        const col = Math.floor(x / 2) % 3;
        for (let c = 0; c < 3; c++) expect(out![(y * w + x) * 3 + c]).toBe(value(c, r, col));
      }
    }
  });

  it('needs codes for pattern codes, and takes none for another pattern', () => {
    const codes = parseClassCodes(DOC, 'c.json', 'd');
    expect(() => createClasswiseNoiseSource({ pattern: 'codes' })).toThrow(/needs the codes/);
    expect(() => createClasswiseNoiseSource({ pattern: 'grating', codes })).toThrow(/only read by pattern 'codes'/);
  });

  it('is reached through the registry with --pattern codes --codes FILE, and the file with anything else is an error', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'unseg-codes-'));
    try {
      const file = path.join(dir, 'codes.json');
      await writeFile(file, JSON.stringify(DOC));
      const src = await createNoiseSource('classwise', { pattern: 'codes', codesFile: file });
      expect(src.description).toMatch(/learned code \(2 codes from .*codes\.json, 2px cells, one on the background too\)/);
      await expect(createNoiseSource('classwise', { pattern: 'codes' })).rejects.toThrow(/needs a class-codes file \(--codes <file>\)/);
      await expect(createNoiseSource('classwise', { pattern: 'grating', codesFile: file })).rejects.toThrow(/only read with pattern codes/);
      await expect(createNoiseSource('uniform', { codesFile: file })).rejects.toThrow(/a class-codes file only applies to the classwise noise source/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
