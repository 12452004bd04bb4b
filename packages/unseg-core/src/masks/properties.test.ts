import fc from 'fast-check';
import {
  rleArea,
  rleDecode,
  rleEncode,
  rleFromCounts,
  rleFromPolygons,
  rleFromString,
  rleToBbox,
  rleToString,
  rleUnion,
  type BinaryMask,
} from './index.js';

/** Masks with long runs as well as noise: uniform random bits alone rarely make runs over 3. */
const maskArb = (maxSide = 24): fc.Arbitrary<BinaryMask> =>
  fc
    .record({ height: fc.integer({ min: 0, max: maxSide }), width: fc.integer({ min: 0, max: maxSide }) })
    .chain(({ height, width }) =>
      fc
        .oneof(
          fc.uint8Array({ minLength: height * width, maxLength: height * width, min: 0, max: 1 }),
          fc.array(fc.record({ at: fc.nat(), len: fc.nat({ max: 60 }) }), { maxLength: 6 }).map((spans) => {
            const data = new Uint8Array(height * width);
            for (const s of spans) if (data.length > 0) data.fill(1, s.at % data.length, (s.at % data.length) + s.len);
            return data;
          }),
          fc.constant(new Uint8Array(height * width).fill(1)),
        )
        .map((data) => ({ height, width, data })),
    );

/** Independent reference: flatten column-major, then count runs starting with 0s. */
function naiveCounts(m: BinaryMask): number[] {
  const counts: number[] = [];
  let prev = 0;
  let run = 0;
  for (let x = 0; x < m.width; x++) {
    for (let y = 0; y < m.height; y++) {
      const v = m.data[y * m.width + x]! ? 1 : 0;
      if (v !== prev) {
        counts.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

describe('encode / decode', () => {
  it('decode(encode(m)) is m, and encode matches a naive column-major run count', () => {
    fc.assert(
      fc.property(maskArb(), (m) => {
        const rle = rleEncode(m);
        expect(Array.from(rle.counts)).toEqual(naiveCounts(m));
        const back = rleDecode(rle);
        expect(back.height).toBe(m.height);
        expect(back.width).toBe(m.width);
        expect(back.data).toEqual(m.data);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes into a given buffer, whatever it held before', () => {
    fc.assert(
      fc.property(maskArb(70), fc.integer({ min: 0, max: 255 }), (m, stale) => {
        const into = new Uint8Array(m.width * m.height).fill(stale);
        const back = rleDecode(rleEncode(m), into);
        expect(back.data).toBe(into);
        expect(back.data).toEqual(m.data);
      }),
      { numRuns: 100 },
    );
    expect(() => rleDecode(rleEncode({ height: 2, width: 2, data: new Uint8Array(4) }), new Uint8Array(3))).toThrow(/3 bytes, expected 4/);
  });

  it('treats any non-zero byte as foreground', () => {
    const m = { height: 2, width: 3, data: Uint8Array.of(0, 7, 255, 1, 0, 2) };
    expect(rleDecode(rleEncode(m)).data).toEqual(Uint8Array.of(0, 1, 1, 1, 0, 1));
  });

  it('area counts the foreground pixels', () => {
    fc.assert(
      fc.property(maskArb(), (m) => {
        expect(rleArea(rleEncode(m))).toBe(m.data.reduce((n, v) => n + v, 0));
      }),
    );
  });

  it('bbox bounds the foreground, tightly unless a run wraps into the next column', () => {
    fc.assert(
      fc.property(maskArb(), (m) => {
        const { height: h, width: w, data } = m;
        let x0 = w;
        let y0 = h;
        let x1 = -1;
        let y1 = -1;
        let wraps = false;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            if (!data[y * w + x]) continue;
            x0 = Math.min(x0, x);
            x1 = Math.max(x1, x);
            y0 = Math.min(y0, y);
            y1 = Math.max(y1, y);
            if (y === h - 1 && x + 1 < w && data[x + 1]) wraps = true;
          }
        }
        const bb = rleToBbox(rleEncode(m));
        if (x1 < 0) expect(bb).toEqual([0, 0, 0, 0]);
        // pycocotools widens the box to the full height when one run spans two columns.
        else if (wraps) expect(bb).toEqual([x0, 0, x1 - x0 + 1, h]);
        else expect(bb).toEqual([x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('compressed strings', () => {
  it('rleFromString(rleToString(r)) gives r back for encoded masks', () => {
    fc.assert(
      fc.property(maskArb(), (m) => {
        const rle = rleEncode(m);
        const s = rleToString(rle);
        expect(s).toMatch(/^[0-o]*$/);
        expect(rleFromString(s, m.height, m.width).counts).toEqual(rle.counts);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips arbitrary counts up to the 32-bit limit (7-char values)', () => {
    // 65535x65535 is the largest square whose pixel count fits COCO's uint32 counts.
    const h = 65535;
    const total = h * h;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: total }), { maxLength: 12 }), (cuts) => {
        const sorted = [0, ...cuts.sort((a, b) => a - b), total];
        const counts = sorted.slice(1).map((c, i) => c - sorted[i]!);
        const rle = rleFromCounts(counts, h, h);
        expect(Array.from(rleFromString(rleToString(rle), h, h).counts)).toEqual(counts);
      }),
      { numRuns: 300 },
    );
  });
});

describe('union', () => {
  it('equals the pixelwise OR, with the same counts as encoding the OR', () => {
    const arb = fc
      .record({ height: fc.integer({ min: 1, max: 16 }), width: fc.integer({ min: 1, max: 16 }) })
      .chain(({ height, width }) =>
        fc
          .array(fc.uint8Array({ minLength: height * width, maxLength: height * width, min: 0, max: 1 }), {
            maxLength: 5,
          })
          .map((datas) => ({ height, width, masks: datas.map((data) => ({ height, width, data })) })),
      );
    fc.assert(
      fc.property(arb, ({ height, width, masks }) => {
        const or = new Uint8Array(height * width);
        for (const m of masks) for (let i = 0; i < or.length; i++) or[i]! |= m.data[i]!;
        const union = rleUnion(masks.map(rleEncode), height, width);
        expect(rleDecode(union).data).toEqual(or);
        expect(union.counts).toEqual(rleEncode({ height, width, data: or }).counts);
      }),
      { numRuns: 300 },
    );
  });
});

/** Even-odd point-in-polygon test, the textbook reference. */
function inside(px: number, py: number, poly: readonly number[]): boolean {
  let c = false;
  const n = poly.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * i]!;
    const yi = poly[2 * i + 1]!;
    const xj = poly[2 * j]!;
    const yj = poly[2 * j + 1]!;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

function distanceToBoundary(px: number, py: number, poly: readonly number[]): number {
  let d = Infinity;
  const n = poly.length / 2;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const ax = poly[2 * i]!;
    const ay = poly[2 * i + 1]!;
    const vx = poly[2 * j]! - ax;
    const vy = poly[2 * j + 1]! - ay;
    const len2 = vx * vx + vy * vy;
    const t = len2 > 0 ? Math.max(0, Math.min(1, ((px - ax) * vx + (py - ay) * vy) / len2)) : 0;
    d = Math.min(d, Math.hypot(px - ax - t * vx, py - ay - t * vy));
  }
  return d;
}

/** Convex polygons from sorted angles on a circle; the centre may lie outside the image. */
const convexArb = fc
  .record({
    height: fc.integer({ min: 1, max: 40 }),
    width: fc.integer({ min: 1, max: 40 }),
    cx: fc.double({ min: -10, max: 50, noNaN: true }),
    cy: fc.double({ min: -10, max: 50, noNaN: true }),
    r: fc.double({ min: 0.5, max: 30, noNaN: true }),
    angles: fc.array(fc.double({ min: 0, max: 2 * Math.PI, noNaN: true, maxExcluded: true }), {
      minLength: 3,
      maxLength: 12,
    }),
  })
  .map(({ height, width, cx, cy, r, angles }) => ({
    height,
    width,
    poly: [...angles].sort((a, b) => a - b).flatMap((a) => [cx + r * Math.cos(a), cy + r * Math.sin(a)]),
  }));

describe('polygon rasteriser', () => {
  // Pixel (x, y) is the unit square with centre (x + 0.5, y + 0.5). The upsampling by 5 moves
  // the boundary by at most about 0.2 px, so only pixel centres that close to an edge may
  // disagree with the exact test; a one-pixel shift or a transposed mask fails this.
  const TOLERANCE = 0.3;

  it('agrees with point-in-polygon away from the boundary on random convex polygons', () => {
    fc.assert(
      fc.property(convexArb, ({ height, width, poly }) => {
        const { data } = rleDecode(rleFromPolygons([poly], height, width));
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const px = x + 0.5;
            const py = y + 0.5;
            const expected = inside(px, py, poly) ? 1 : 0;
            if (data[y * width + x] !== expected && distanceToBoundary(px, py, poly) > TOLERANCE) {
              throw new Error(`pixel (${x}, ${y}) is ${data[y * width + x]}, point-in-polygon says ${expected}`);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('unites the parts of a multi-polygon annotation', () => {
    fc.assert(
      fc.property(convexArb, convexArb, ({ height, width, poly }, other) => {
        const a = rleDecode(rleFromPolygons([poly], height, width)).data;
        const b = rleDecode(rleFromPolygons([other.poly], height, width)).data;
        const both = rleDecode(rleFromPolygons([poly, other.poly], height, width)).data;
        expect(both).toEqual(a.map((v, i) => v | b[i]!));
      }),
      { numRuns: 200 },
    );
  });

  it('gives an empty mask for an empty polygon list', () => {
    expect(Array.from(rleFromPolygons([], 3, 4).counts)).toEqual([12]);
  });
});
