/**
 * COCO run-length encoding, ported from pycocotools' common/maskApi.c so that every result
 * (counts, strings, areas, boxes) is bit-identical to what the Python toolchain produces.
 * Counts are column-major runs that alternate 0s and 1s, starting with 0s.
 */
import { MaskFormatError } from './errors.js';
import type { BinaryMask, Rle } from './types.js';

/** maskApi.c keeps counts and h*w in 32-bit `uint`: larger masks cannot round-trip through pycocotools. */
export const UINT32_MAX = 0xffffffff;

/** A compressed value carries 5 payload bits a char; 7 chars cover any delta of two uint32 counts. */
const MAX_CHARS_PER_VALUE = 7;

/** @internal Throws unless height and width are usable mask dimensions. */
export function checkDimensions(height: number, width: number): void {
  if (!Number.isSafeInteger(height) || height < 0 || !Number.isSafeInteger(width) || width < 0) {
    throw new MaskFormatError(`mask height and width must be non-negative integers, got height ${height}, width ${width}`);
  }
  if (height * width > UINT32_MAX) {
    throw new MaskFormatError(`mask of ${height}x${width} pixels is larger than COCO RLE's 32-bit counts allow`);
  }
}

/** @internal Throws unless the counts cover exactly height*width pixels. */
export function checkCountsSum(sum: number, height: number, width: number): void {
  if (sum !== height * width) {
    throw new MaskFormatError(
      `RLE counts sum to ${sum} but a ${height}x${width} (height x width) mask has ${height * width} pixels`,
    );
  }
}

/**
 * Validates an Rle built elsewhere: the functions below index and fill buffers from the counts,
 * and a wrong sum would silently produce a shifted mask (pycocotools does not check).
 */
function checkRle(rle: Rle): void {
  checkDimensions(rle.height, rle.width);
  if (!(rle.counts instanceof Uint32Array)) {
    throw new MaskFormatError('RLE counts must be a Uint32Array');
  }
  let sum = 0;
  for (let i = 0; i < rle.counts.length; i++) sum += rle.counts[i]!;
  checkCountsSum(sum, rle.height, rle.width);
}

/** Uncompressed RLE as in COCO JSON `{size, counts: number[]}` (pycocotools frUncompressedRLE). */
export function rleFromCounts(counts: readonly number[], height: number, width: number): Rle {
  checkDimensions(height, width);
  if (!Array.isArray(counts)) throw new MaskFormatError('RLE counts must be an array of numbers');
  const out = new Uint32Array(counts.length);
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c: unknown = counts[i];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > UINT32_MAX) {
      throw new MaskFormatError(
        `RLE count at index ${i} is ${String(c)}: counts must be integers from 0 to ${UINT32_MAX}`,
      );
    }
    out[i] = c;
    sum += c;
  }
  checkCountsSum(sum, height, width);
  return { height, width, counts: out };
}

/**
 * Decodes COCO's compressed counts string (rleFrString): LEB128-like, 5 payload bits per char
 * in ASCII 48..111, bit 0x20 = more chars follow, bit 0x10 of the last char = sign; from the
 * fourth value on (index > 2, not >= 2: a quirk of maskApi.c) a value is a delta from the count
 * two positions back. Arithmetic is exact where maskApi.c's 32-bit shifts are defined; inputs
 * relying on its undefined behaviour (over 7 chars a value) are rejected.
 */
export function rleFromString(counts: string, height: number, width: number): Rle {
  checkDimensions(height, width);
  if (typeof counts !== 'string') throw new MaskFormatError('compressed RLE counts must be a string');
  const n = counts.length;
  const out = new Uint32Array(n);
  let m = 0;
  let p = 0;
  let sum = 0;
  while (p < n) {
    const start = p;
    let x = 0;
    let k = 0;
    let scale = 1;
    let more = true;
    while (more) {
      if (p >= n) {
        throw new MaskFormatError(
          `compressed RLE counts: value starting at offset ${start} is truncated (last char has the continuation bit)`,
        );
      }
      if (k === MAX_CHARS_PER_VALUE) {
        throw new MaskFormatError(
          `compressed RLE counts: value starting at offset ${start} is longer than ${MAX_CHARS_PER_VALUE} chars`,
        );
      }
      const code = counts.charCodeAt(p);
      if (code < 48 || code > 111) {
        throw new MaskFormatError(
          `compressed RLE counts: invalid char ${JSON.stringify(counts[p])} at offset ${p} (allowed: ASCII 48..111)`,
        );
      }
      const c = code - 48;
      x += (c & 0x1f) * scale;
      more = (c & 0x20) !== 0;
      p++;
      k++;
      scale *= 32;
      // Sign extension: in C `x |= -1 << 5*k`; the payload bits are below 5*k, so OR is subtraction.
      if (!more && (c & 0x10) !== 0) x -= scale;
    }
    if (m > 2) x += out[m - 2]!;
    if (x < 0 || x > UINT32_MAX) {
      throw new MaskFormatError(
        `compressed RLE counts: value ${m} (offset ${start}) decodes to ${x}, outside 0..${UINT32_MAX}`,
      );
    }
    out[m++] = x;
    sum += x;
  }
  checkCountsSum(sum, height, width);
  return { height, width, counts: out.slice(0, m) };
}

const asciiDecoder = new TextDecoder('utf-8');

/** Encodes counts as COCO's compressed string (rleToString), the inverse of rleFromString. */
export function rleToString(rle: Rle): string {
  checkRle(rle);
  const cnts = rle.counts;
  const m = cnts.length;
  const bytes = new Uint8Array(m * MAX_CHARS_PER_VALUE);
  let p = 0;
  for (let i = 0; i < m; i++) {
    // Doubles, not int32 bit ops: a delta of two uint32 counts needs up to 33 bits plus sign.
    let x = cnts[i]!;
    if (i > 2) x -= cnts[i - 2]!;
    let more = true;
    while (more) {
      // `& 0x1f` applies ToInt32 (mod 2^32), which keeps the low 5 bits of any safe integer.
      let c = x & 0x1f;
      x = Math.floor(x / 32);
      more = (c & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      bytes[p++] = c + 48;
    }
  }
  return asciiDecoder.decode(bytes.subarray(0, p));
}

/** Side of the square tiles the transposes work in: both tiles of a step stay in L1 cache. */
const TILE = 64;

let scratch = new Uint8Array(0);

/** A reusable byte buffer of at least n bytes; callers are synchronous, so one is enough. */
function scratchBytes(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/**
 * Row-major bytes to column-major 0/1 bytes. Walking a row-major mask column by column touches
 * a new cache line per pixel; tiling keeps a 1024x1024 transpose to about a millisecond.
 */
function rowToColumnMajor(src: Uint8Array, h: number, w: number, dst: Uint8Array): void {
  for (let y0 = 0; y0 < h; y0 += TILE) {
    const y1 = Math.min(y0 + TILE, h);
    for (let x0 = 0; x0 < w; x0 += TILE) {
      const x1 = Math.min(x0 + TILE, w);
      for (let x = x0; x < x1; x++) {
        let o = x * h + y0;
        for (let i = y0 * w + x, y = y0; y < y1; y++, i += w) dst[o++] = -src[i]! >>> 31;
      }
    }
  }
}

/**
 * Encodes a row-major mask (rleEncode). Any non-zero byte counts as foreground: pycocotools
 * compares raw bytes and would produce nonsense runs for values other than 0/1.
 */
export function rleEncode(mask: BinaryMask): Rle {
  const { height: h, width: w, data } = mask;
  checkDimensions(h, w);
  if (!(data instanceof Uint8Array) || data.length !== h * w) {
    throw new MaskFormatError(
      `mask data must be a Uint8Array of height*width = ${h * w} bytes, got ${data instanceof Uint8Array ? data.length : typeof data}`,
    );
  }
  const a = h * w;
  const col = scratchBytes(a);
  rowToColumnMajor(data, h, w, col);
  // Grown on demand: most masks have far fewer runs than the h*w+1 worst case C allocates.
  let buf: Uint32Array = new Uint32Array(Math.min(a + 1, 1024));
  let k = 0;
  let prev = 0;
  let last = 0;
  // Whole words equal to the current value cannot hold a run boundary: skip them 4 pixels at
  // a time (the scratch buffer starts at offset 0 of its ArrayBuffer, so the view is aligned).
  const words = new Uint32Array(col.buffer, 0, a >>> 2);
  let j = 0;
  while (j < a) {
    if ((j & 3) === 0 && j + 4 <= a && words[j >>> 2] === (prev === 0 ? 0 : 0x01010101)) {
      j += 4;
      continue;
    }
    if (col[j] !== prev) {
      if (k === buf.length) buf = grow(buf);
      buf[k++] = j - last;
      last = j;
      prev ^= 1;
    }
    j++;
  }
  if (k === buf.length) buf = grow(buf);
  buf[k++] = a - last;
  return { height: h, width: w, counts: buf.slice(0, k) };
}

/** @internal Doubles a typed buffer, keeping its contents. */
export function grow(buf: Uint32Array): Uint32Array {
  const bigger = new Uint32Array(Math.max(16, buf.length * 2));
  bigger.set(buf);
  return bigger;
}

/**
 * Decodes to a row-major 0/1 mask (pycocotools' rleDecode, in C order). Written into `into`
 * when given (height * width bytes, overwritten), else into a new array.
 *
 * The runs are column-major, the output row-major: rather than filling a column-major copy
 * and transposing it (5-8 ms for 1024x1024), each column segment of a foreground run toggles
 * its first row and the row after its last, and one XOR pass down the rows fills the
 * segments in (about 1 ms, touching memory in order).
 */
export function rleDecode(rle: Rle, into?: Uint8Array): BinaryMask {
  checkRle(rle);
  const { height: h, width: w, counts } = rle;
  const a = h * w;
  if (into && into.length !== a) throw new RangeError(`output has ${into.length} bytes, expected ${a} for ${w}x${h}`);
  const data = into ? into.fill(0) : new Uint8Array(a);
  let idx = 0;
  for (let j = 0; j < counts.length; j++) {
    const end = idx + counts[j]!;
    if ((j & 1) === 1) {
      while (idx < end) {
        const x = Math.floor(idx / h);
        const y = idx - x * h;
        const segmentEnd = Math.min(end, (x + 1) * h);
        data[y * w + x]! ^= 1;
        const after = segmentEnd - x * h;
        if (after < h) data[after * w + x]! ^= 1;
        idx = segmentEnd;
      }
    }
    idx = end;
  }
  prefixXorRows(data, h, w);
  return { height: h, width: w, data };
}

/** row[y] ^= row[y - 1] for every row, four bytes at a time where the rows allow it. */
function prefixXorRows(data: Uint8Array, h: number, w: number): void {
  if (w % 4 === 0 && data.byteOffset % 4 === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, (h * w) >>> 2);
    const rowWords = w >>> 2;
    for (let i = rowWords; i < words.length; i++) words[i]! ^= words[i - rowWords]!;
    return;
  }
  for (let i = w; i < h * w; i++) data[i]! ^= data[i - w]!;
}

/**
 * Union of two RLEs exactly as rleMerge's inner loop (intersect = 0) builds it, including
 * its handling of zero-length runs, so the counts equal pycocotools' `merge` output.
 */
function mergeTwo(a: Uint32Array, b: Uint32Array): Uint32Array {
  // Every loop turn consumes a run of a or b, so the output has at most a.length + b.length runs.
  const out = new Uint32Array(a.length + b.length + 1);
  let m = 0;
  let ca = a[0] ?? 0;
  let cb = b[0] ?? 0;
  let v = false;
  let va = false;
  let vb = false;
  let ia = 1;
  let ib = 1;
  let cc = 0;
  let ct = 1;
  while (ct > 0) {
    const c = ca < cb ? ca : cb;
    cc += c;
    ct = 0;
    ca -= c;
    if (ca === 0 && ia < a.length) {
      ca = a[ia++]!;
      va = !va;
    }
    ct += ca;
    cb -= c;
    if (cb === 0 && ib < b.length) {
      cb = b[ib++]!;
      vb = !vb;
    }
    ct += cb;
    const vp: boolean = v;
    v = va || vb;
    if (v !== vp || ct === 0) {
      out[m++] = cc;
      cc = 0;
    }
  }
  return out.slice(0, m);
}

/**
 * Pixelwise OR of same-size RLEs, equal to pycocotools `merge(rles, intersect=0)`. Unlike
 * pycocotools (which returns a 0x0 RLE), an empty list gives the all-zero height x width mask,
 * and a size mismatch throws instead of yielding 0x0.
 */
export function rleUnion(rles: readonly Rle[], height: number, width: number): Rle {
  checkDimensions(height, width);
  if (!Array.isArray(rles)) throw new MaskFormatError('rleUnion expects an array of RLEs');
  for (let i = 0; i < rles.length; i++) {
    const r = rles[i]!;
    if (r.height !== height || r.width !== width) {
      throw new MaskFormatError(
        `rleUnion: RLE ${i} is ${r.height}x${r.width} (height x width) but the union is ${height}x${width}`,
      );
    }
    checkRle(r);
  }
  if (rles.length === 0) return { height, width, counts: Uint32Array.of(height * width) };
  if (rles.length === 1) return { height, width, counts: rles[0]!.counts.slice() };
  // Merged in pairs, then pairs of pairs: folding one object at a time into a growing union
  // re-reads that union once per object (quadratic in the object count; a facade has dozens of
  // windows). Union is associative and mergeTwo's output canonical, so the counts are the same.
  let level: Uint32Array[] = rles.map((r) => r.counts);
  while (level.length > 1) {
    const next: Uint32Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(mergeTwo(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return { height, width, counts: level[0]! };
}

/** Number of foreground pixels (rleArea). */
export function rleArea(rle: Rle): number {
  checkRle(rle);
  let area = 0;
  for (let j = 1; j < rle.counts.length; j += 2) area += rle.counts[j]!;
  return area;
}

/**
 * Bounding box [x, y, w, h] of the foreground as rleToBbox computes it: an empty mask gives
 * [0,0,0,0]; a run crossing a column boundary widens the box to the full height. The 32-bit
 * unsigned wrap-around of maskApi.c is kept (`>>> 0`) so degenerate counts give its exact result.
 */
export function rleToBbox(rle: Rle): [number, number, number, number] {
  checkRle(rle);
  const h = rle.height;
  const cnts = rle.counts;
  const m = cnts.length - (cnts.length % 2);
  // h*w === 0 would divide by zero in C; there is no foreground to bound anyway.
  if (m === 0 || h === 0 || rle.width === 0) return [0, 0, 0, 0];
  let xs = rle.width;
  let ys = h;
  let xe = 0;
  let ye = 0;
  let xp = 0;
  let cc = 0;
  for (let j = 0; j < m; j++) {
    cc = (cc + cnts[j]!) >>> 0;
    const t = (cc - (j % 2)) >>> 0;
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    if (x < xs) xs = x;
    if (x > xe) xe = x;
    if (y < ys) ys = y;
    if (y > ye) ye = y;
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}
