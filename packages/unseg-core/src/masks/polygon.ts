/**
 * Polygon rasterisation, a port of pycocotools' rleFrPoly (maskApi.c). The result must equal
 * pycocotools bit for bit, so the port keeps its quirks: coordinates upsampled by 5 and rounded
 * with C's truncating `(int)(v + .5)`, the boundary walked point by point, a pixel column
 * counted only where the upsampled boundary crosses its centre, and y rounded up.
 */
import { MaskFormatError } from './errors.js';
import { checkDimensions, grow, rleUnion } from './rle.js';
import type { Rle } from './types.js';

const SCALE = 5;
/** C converts `scale*v + .5` to a 32-bit int; beyond this the conversion is undefined behaviour. */
const INT32_LIMIT = 2 ** 31;
/** What x86's cvttsd2si gives for `(int)NaN`, which rleFrPoly hits on a zero-length edge (0/0 slope). */
const C_INT_NAN = -(2 ** 31);

function checkPolygon(poly: unknown, index: number): asserts poly is readonly number[] {
  if (!Array.isArray(poly)) {
    throw new MaskFormatError(`polygon ${index} is not an array of numbers`);
  }
  if (poly.length < 6) {
    throw new MaskFormatError(
      `polygon ${index} has ${poly.length} numbers: a polygon needs at least 3 points (6 numbers)`,
    );
  }
  // pycocotools rasterises int(len/2) points and silently drops a trailing odd coordinate; a
  // lost coordinate means the annotation is corrupt, so it is rejected rather than guessed.
  if (poly.length % 2 !== 0) {
    throw new MaskFormatError(
      `polygon ${index} has an odd number of coordinates (${poly.length}): expected x,y pairs`,
    );
  }
  for (let j = 0; j < poly.length; j++) {
    const v: unknown = poly[j];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new MaskFormatError(`polygon ${index} coordinate ${j} is not a finite number: ${String(v)}`);
    }
    if (Math.abs(SCALE * v + 0.5) >= INT32_LIMIT) {
      throw new MaskFormatError(`polygon ${index} coordinate ${j} is out of range: ${v}`);
    }
  }
}

/** One polygon to an RLE, exactly as rleFrPoly; `poly` is validated by checkPolygon. */
function rleFromPolygon(poly: readonly number[], h: number, w: number): Uint32Array {
  const k = poly.length / 2;
  const px = new Int32Array(k + 1);
  const py = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) {
    px[j] = Math.trunc(SCALE * poly[2 * j]! + 0.5);
    py[j] = Math.trunc(SCALE * poly[2 * j + 1]! + 0.5);
  }
  px[k] = px[0]!;
  py[k] = py[0]!;

  // maskApi.c materialises every upsampled boundary point and then looks at consecutive
  // pairs; walking the same sequence and keeping only the previous point gives the same pairs
  // without memory proportional to the perimeter.
  let a: Uint32Array = new Uint32Array(256);
  let na = 0;
  let havePrev = false;
  let pu = 0;
  let pv = 0;
  const visit = (u: number, v: number): void => {
    if (havePrev && u !== pu) {
      let xd = u < pu ? u : u - 1;
      xd = (xd + 0.5) / SCALE - 0.5;
      if (Math.floor(xd) === xd && xd >= 0 && xd <= w - 1) {
        let yd = v < pv ? v : pv;
        yd = (yd + 0.5) / SCALE - 0.5;
        if (yd < 0) yd = 0;
        else if (yd > h) yd = h;
        yd = Math.ceil(yd);
        if (na === a.length) a = grow(a);
        a[na++] = xd * h + yd;
      }
    }
    havePrev = true;
    pu = u;
    pv = v;
  };

  for (let j = 0; j < k; j++) {
    let xs = px[j]!;
    let xe = px[j + 1]!;
    let ys = py[j]!;
    let ye = py[j + 1]!;
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        const v = ys + s * t + 0.5;
        visit(t + xs, Number.isNaN(v) ? C_INT_NAN : Math.trunc(v));
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        visit(Math.trunc(xs + s * t + 0.5), t + ys);
      }
    }
  }

  if (na === a.length) a = grow(a);
  a[na++] = h * w;
  const pts = a.subarray(0, na).sort();
  // Boundary positions to run lengths; two crossings at the same pixel cancel, so a zero-length
  // run merges the following run into the previous one.
  let prev = 0;
  for (let j = 0; j < na; j++) {
    const t = pts[j]!;
    pts[j] = t - prev;
    prev = t;
  }
  let m = 0;
  let j = 0;
  pts[m++] = pts[j++]!;
  while (j < na) {
    if (pts[j]! > 0) pts[m++] = pts[j++]!;
    else {
      j++;
      if (j < na) pts[m - 1] = pts[m - 1]! + pts[j++]!;
    }
  }
  return pts.slice(0, m);
}

/**
 * Rasterises a COCO polygon annotation (a list of flat [x1,y1,x2,y2,...] polygons in pixel
 * coordinates) and unites the parts, as `merge(frPyObjects(segm, h, w))` does in pycocotools.
 * Differences from pycocotools, all on inputs it mishandles: an empty list gives an empty mask
 * (pycocotools raises IndexError), a first polygon of 4 numbers is rejected (pycocotools reads
 * it as a bbox), and odd-length polygons are rejected (pycocotools drops the last number).
 */
export function rleFromPolygons(polygons: readonly (readonly number[])[], height: number, width: number): Rle {
  checkDimensions(height, width);
  if (!Array.isArray(polygons)) throw new MaskFormatError('polygons must be an array of number arrays');
  const parts: Rle[] = [];
  for (let i = 0; i < polygons.length; i++) {
    const poly: unknown = polygons[i];
    checkPolygon(poly, i);
    const counts = height * width === 0 ? Uint32Array.of(0) : rleFromPolygon(poly, height, width);
    parts.push({ height, width, counts });
  }
  if (parts.length === 1) return parts[0]!;
  return rleUnion(parts, height, width);
}
