import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inflateRawSync, inflateSync } from 'node:zlib';
import { mulberry32 } from '../noise/seeded.js';
import { applyNoisePixels, deflateLiterals, measurePixels, mulberry32Directions, upFilterScanlines, type StepRule } from './kernels.js';
import { PIXELS_WASM_BASE64 } from './pixels-wasm.js';

// Scalar statements of what the kernels compute, one pixel at a time.
function referenceApply(image: Uint8Array, noise: Float32Array, mask: Uint8Array, rule: StepRule): Uint8Array {
  const out = new Uint8Array(image.length);
  const scaleFg = Math.fround(rule.scaleFg);
  const scaleBg = Math.fround(rule.scaleBg);
  for (let i = 0; i < image.length; i++) {
    const inside = mask[Math.floor(i / 3)] !== 0;
    const limit = inside ? rule.limitFg : rule.limitBg;
    const product = Math.fround(noise[i]! * (inside ? scaleFg : scaleBg));
    let step = Math.floor(Math.fround(product + 0.5));
    if (Number.isNaN(step)) step = 0;
    step = Math.max(-limit, Math.min(limit, step));
    out[i] = Math.max(0, Math.min(255, image[i]! + step));
  }
  return out;
}

function referenceMeasure(a: Uint8Array, b: Uint8Array, mask: Uint8Array) {
  const r = { maxAbsFg: 0, maxAbsBg: 0, sumAbs: 0, sumSq: 0, promptPixels: 0 };
  for (let p = 0; p < mask.length; p++) {
    const inside = mask[p] !== 0;
    if (inside) r.promptPixels++;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(b[p * 3 + c]! - a[p * 3 + c]!);
      r.sumAbs += d;
      r.sumSq += d * d;
      if (inside) r.maxAbsFg = Math.max(r.maxAbsFg, d);
      else r.maxAbsBg = Math.max(r.maxAbsBg, d);
    }
  }
  return r;
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inputs(pixels: number, seed: number) {
  const rand = random(seed);
  const image = Uint8Array.from({ length: pixels * 3 }, () => Math.floor(rand() * 256));
  const noise = Float32Array.from({ length: pixels * 3 }, () => rand() * 2.6 - 1.3);
  const mask = Uint8Array.from({ length: pixels }, () => (rand() < 0.4 ? Math.ceil(rand() * 255) : 0));
  return { image, noise, mask };
}

const rule: StepRule = { scaleFg: (8 / 255) * 255, scaleBg: (2 / 255) * 255, limitFg: 8, limitBg: 2 };

describe('applyNoisePixels', () => {
  // 1 and 17 leave a partial 16-pixel block; 65536 + 21 crosses a chunk boundary.
  it.each([1, 16, 17, 1000, 65536 + 21])('matches the scalar rule on %i pixels', (pixels) => {
    const { image, noise, mask } = inputs(pixels, pixels);
    const out = new Uint8Array(pixels * 3);
    applyNoisePixels(image, noise, mask, out, rule);
    expect(Buffer.from(out).equals(Buffer.from(referenceApply(image, noise, mask, rule)))).toBe(true);
  });

  it('adds nothing for NaN, the full budget for infinities, and clamps at 0 and 255', () => {
    const image = Uint8Array.from([100, 100, 100, 0, 255, 3, 100, 100, 100]);
    const noise = Float32Array.from([NaN, Infinity, -Infinity, -1, 1, -1, 0.5, -0.5, 0.49]);
    const mask = Uint8Array.from([1, 1, 0]);
    const out = new Uint8Array(9);
    applyNoisePixels(image, noise, mask, out, rule);
    // 0.5 * 2 = 1 and -0.5 * 2 = -1 are exact; 0.49 * 2 = 0.98 rounds to 1
    expect([...out]).toEqual([100, 108, 92, 0, 255, 0, 101, 99, 101]);
  });

  it('rounds halves up, as floor(x + 0.5)', () => {
    const image = Uint8Array.from([50, 50, 50]);
    const noise = Float32Array.from([0.0625, -0.0625, 0.1875]); // x 8 = 0.5, -0.5, 1.5
    const out = new Uint8Array(3);
    applyNoisePixels(image, noise, Uint8Array.from([1]), out, rule);
    expect([...out]).toEqual([51, 50, 52]);
  });
});

describe('measurePixels', () => {
  it.each([1, 15, 16, 33, 65536 + 21])('matches the scalar statistics on %i pixels', (pixels) => {
    const { image, noise, mask } = inputs(pixels, 7 + pixels);
    const out = new Uint8Array(pixels * 3);
    applyNoisePixels(image, noise, mask, out, rule);
    expect(measurePixels(image, out, mask)).toEqual(referenceMeasure(image, out, mask));
  });

  it('keeps exact sums in the worst case (every channel 255 apart) past a chunk', () => {
    const pixels = 65536 * 2 + 5;
    const a = new Uint8Array(pixels * 3);
    const b = new Uint8Array(pixels * 3).fill(255);
    const mask = new Uint8Array(pixels).fill(1, 0, 10);
    const d = measurePixels(a, b, mask);
    expect(d).toEqual({ maxAbsFg: 255, maxAbsBg: 255, sumAbs: pixels * 3 * 255, sumSq: pixels * 3 * 255 * 255, promptPixels: 10 });
  });

  it('does not count stale padding from a larger earlier call', () => {
    const big = inputs(1000, 3);
    const bigOut = new Uint8Array(3000).fill(255);
    measurePixels(big.image, bigOut, big.mask.fill(1));
    const a = Uint8Array.from([10, 10, 10]);
    expect(measurePixels(a, a, Uint8Array.from([0]))).toEqual({ maxAbsFg: 0, maxAbsBg: 0, sumAbs: 0, sumSq: 0, promptPixels: 0 });
  });

  it('finds a single out-of-budget channel in either region', () => {
    const pixels = 40;
    const a = new Uint8Array(pixels * 3).fill(128);
    const mask = new Uint8Array(pixels).fill(1, 20);
    for (const [at, region] of [[5 * 3 + 2, 'maxAbsBg'], [37 * 3 + 1, 'maxAbsFg']] as const) {
      const b = a.slice();
      b[at] = 128 - 9;
      const d = measurePixels(a, b, mask);
      expect(d[region]).toBe(9);
      expect(d[region === 'maxAbsFg' ? 'maxAbsBg' : 'maxAbsFg']).toBe(0);
    }
  });
});

describe('mulberry32Directions', () => {
  // 5 values end inside a draw; 65536 * 3 + 7 crosses a chunk boundary and ends inside a draw.
  it.each([[0, 1], [12345, 5], [-7, 64], [0xdeadbeef, 65536 * 3 + 7]])('is the byte stream of mulberry32(%i), %i values', (seed, length) => {
    const next = mulberry32(seed);
    const expected = new Float32Array(length);
    let word = 0;
    for (let i = 0; i < length; i++) {
      if (i % 4 === 0) word = next();
      expected[i] = (((word >>> (8 * (i % 4))) & 255) + 0.5) / 128 - 1;
    }
    const out = mulberry32Directions(seed, new Float32Array(length).fill(NaN));
    expect(Buffer.from(out.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });
});

describe('upFilterScanlines', () => {
  function referenceUp(data: Uint8Array, rowBytes: number, rows: number): Uint8Array {
    const out = new Uint8Array((rowBytes + 1) * rows);
    for (let y = 0; y < rows; y++) {
      out[y * (rowBytes + 1)] = 2;
      for (let x = 0; x < rowBytes; x++) {
        const above = y === 0 ? 0 : data[(y - 1) * rowBytes + x]!;
        out[y * (rowBytes + 1) + 1 + x] = (data[y * rowBytes + x]! - above) & 255;
      }
    }
    return out;
  }

  // Rows shorter than a 16-byte step, rows that end inside a step, a single row, and rows of
  // 70000 pixels (210000 bytes), longer than a kernel chunk, so a chunk ends inside a row.
  it.each([[1, 1], [1, 5], [7, 3], [33, 20], [1024, 67], [70000, 3]])('matches the scalar Up filter for %i x %i pixels', (width, height) => {
    const rand = random(width * 31 + height);
    const data = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256));
    const out = new Uint8Array((width * 3 + 1) * height).fill(77);
    upFilterScanlines(data, width * 3, height, out);
    expect(Buffer.from(out).equals(Buffer.from(referenceUp(data, width * 3, height)))).toBe(true);
  });

  it('refuses buffers too short for the rows', () => {
    expect(() => upFilterScanlines(new Uint8Array(5), 3, 2, new Uint8Array(8))).toThrow(RangeError);
    expect(() => upFilterScanlines(new Uint8Array(6), 3, 2, new Uint8Array(7))).toThrow(RangeError);
  });
});

function referenceAdler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const x of bytes) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return (b * 65536 + a) >>> 0;
}

describe('deflateLiterals', () => {
  const CHUNK = 65536 * 3;
  const deflated = (bytes: Uint8Array) => Buffer.concat(deflateLiterals(bytes));

  // Empty input (one block with end-of-block only), tails of the 3-code and 16-byte steps, and
  // sizes around the one-block-per-chunk boundary.
  it.each([0, 1, 2, 3, 4, 15, 16, 17, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5])(
    'writes a zlib stream that node inflates back to %i random bytes (adler-32 checked by zlib)',
    (n) => {
      const rand = random(n + 1);
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
      expect(inflateSync(deflated(bytes)).equals(Buffer.from(bytes))).toBe(true);
    },
  );

  it('round-trips skewed data: one byte value, and counts so uneven that the code must be length-limited', () => {
    const same = new Uint8Array(5000).fill(9);
    expect(inflateSync(deflated(same)).equals(Buffer.from(same))).toBe(true);
    // Fibonacci counts make the optimal tree as deep as it can be (one level per symbol).
    const fib = [1, 1];
    while (fib.length < 24) fib.push(fib.at(-1)! + fib.at(-2)!);
    const skewed = Uint8Array.from(fib.flatMap((count, symbol) => new Array<number>(count).fill(symbol)));
    expect(inflateSync(deflated(skewed)).equals(Buffer.from(skewed))).toBe(true);
  });

  it('compresses what Huffman coding can compress, and ends with the adler-32 of the input', () => {
    const rand = random(3);
    // bytes near 0 and 255, as Up-filtered noisy scanlines are: far fewer than 8 bits each
    const bytes = Uint8Array.from({ length: 50000 }, () => (Math.floor(rand() * 9) - 4) & 255);
    const out = deflated(bytes);
    expect(out.length).toBeLessThan(bytes.length * 0.5);
    expect(out.readUInt32BE(out.length - 4)).toBe(referenceAdler32(bytes));
    // the deflate stream alone, without zlib's header and checksum, inflates too
    expect(inflateRawSync(out.subarray(2, out.length - 4)).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('pixels-wasm.ts', () => {
  it('is what pixels.wat compiles to (run npm run build:wasm -w @unseg/core after editing the WAT)', async () => {
    const here = fileURLToPath(new URL('.', import.meta.url));
    // @ts-expect-error: a plain .mjs build script without type declarations
    const { compilePixelsWat } = await import('../../scripts/pixels-wat.mjs');
    const binary: Uint8Array = await compilePixelsWat(readFileSync(`${here}pixels.wat`, 'utf8'));
    expect(Buffer.from(binary).toString('base64')).toBe(PIXELS_WASM_BASE64);
  });
});
