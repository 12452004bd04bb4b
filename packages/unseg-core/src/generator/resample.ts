/**
 * Resampling between an image's own size and the generator's working size, in plain loops on
 * interleaved (HWC) arrays, but for the upsampling's large row pass, a WebAssembly kernel.
 * Doing this with tfjs ops meant full-size tensors on a single-threaded backend (a 1024x1024
 * image to float, pooled, the noise resized back and read out): about half of the generator
 * row's CPU time. Only the working-size tensors now go through tfjs.
 */
import { blendRows } from '../pixels/kernels.js';

/** For each output index: the first source index and the weights of the source indices it covers. */
interface Spans {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array;
  readonly stride: number;
}

/**
 * Area (box) weights: output pixel i covers source interval [i*s, (i+1)*s) with s = n/m, each
 * source pixel weighted by its overlap, normalised to sum 1. For an integer factor this is the
 * plain k x k average (what avgPool gives); for other factors it is OpenCV's INTER_AREA.
 */
function areaSpans(n: number, m: number): Spans {
  const s = n / m;
  const stride = Math.ceil(s) + 1;
  const start = new Int32Array(m);
  const count = new Int32Array(m);
  const weights = new Float32Array(m * stride);
  for (let i = 0; i < m; i++) {
    const lo = i * s;
    const hi = Math.min(n, (i + 1) * s);
    const first = Math.floor(lo);
    const last = Math.min(n - 1, Math.ceil(hi) - 1);
    start[i] = first;
    count[i] = last - first + 1;
    for (let j = first; j <= last; j++) {
      const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
      weights[i * stride + (j - first)] = overlap / (hi - lo);
    }
  }
  return { start, count, weights, stride };
}

/**
 * Shrinks an HWC image (`channels` per pixel, any numeric array) from width x height to
 * outWidth x outHeight by area averaging, multiplying every value by `scale` (e.g. 1/255).
 * Upscaling is not its job: each output dimension must be at most the input's.
 */
export function areaDownsample(
  src: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  scale = 1,
): Float32Array {
  if (src.length !== width * height * channels) {
    throw new RangeError(`source has ${src.length} values, expected ${width}x${height}x${channels}`);
  }
  if (outWidth > width || outHeight > height || outWidth < 1 || outHeight < 1) {
    throw new RangeError(`area downsampling ${width}x${height} to ${outWidth}x${outHeight} is not a shrink`);
  }
  if (width % outWidth === 0 && height % outHeight === 0) {
    return blockAverage(src, width, height, channels, outWidth, outHeight, scale);
  }
  const xs = areaSpans(width, outWidth);
  const ys = areaSpans(height, outHeight);
  // Rows first: each source row shrinks to outWidth, then groups of rows are averaged.
  const rows = new Float32Array(height * outWidth * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const first = xs.start[x]!;
      const k = xs.count[x]!;
      const wOff = x * xs.stride;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let j = 0; j < k; j++) acc += src[rowIn + (first + j) * channels + c]! * xs.weights[wOff + j]!;
        rows[rowOut + x * channels + c] = acc;
      }
    }
  }
  const out = new Float32Array(outHeight * outWidth * channels);
  const rowLen = outWidth * channels;
  for (let y = 0; y < outHeight; y++) {
    const first = ys.start[y]!;
    const k = ys.count[y]!;
    const wOff = y * ys.stride;
    const o = y * rowLen;
    for (let j = 0; j < k; j++) {
      const w = ys.weights[wOff + j]! * scale;
      const r = (first + j) * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i]! += rows[r + i]! * w;
    }
  }
  return out;
}

/**
 * areaDownsample for whole factors (1024 -> 128, the usual case): every output value is the plain
 * mean of a kx x ky block, summed without weights. 2-3x faster than the weighted spans, which
 * took a quarter of the generator row's main-thread time.
 */
function blockAverage(
  src: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  scale: number,
): Float32Array {
  const kx = width / outWidth;
  const ky = height / outHeight;
  const rowLen = outWidth * channels;
  // One output row's sums in float64: a block of 8-bit values sums exactly.
  const sums = new Float64Array(rowLen);
  const out = new Float32Array(outHeight * rowLen);
  const mean = scale / (kx * ky);
  let p = 0;
  for (let oy = 0; oy < outHeight; oy++) {
    sums.fill(0);
    for (let j = 0; j < ky; j++) {
      let q = 0;
      if (channels === 3) {
        for (let x = 0; x < outWidth; x++, q += 3) {
          let a = 0;
          let b = 0;
          let c = 0;
          for (let i = 0; i < kx; i++, p += 3) {
            a += src[p]!;
            b += src[p + 1]!;
            c += src[p + 2]!;
          }
          sums[q]! += a;
          sums[q + 1]! += b;
          sums[q + 2]! += c;
        }
      } else if (channels === 1) {
        for (let x = 0; x < outWidth; x++, q++) {
          let a = 0;
          for (let i = 0; i < kx; i++) a += src[p++]!;
          sums[q]! += a;
        }
      } else {
        for (let x = 0; x < outWidth; x++, q += channels) {
          for (let i = 0; i < kx; i++) for (let ch = 0; ch < channels; ch++) sums[q + ch]! += src[p++]!;
        }
      }
    }
    const o = oy * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = sums[i]! * mean;
  }
  return out;
}

/**
 * Bilinear resize of an HWC float image with half-pixel centres (source coordinate
 * (i + 0.5) * in/out - 0.5, clamped at the edges): the sampling that keeps a resized image
 * aligned with the original, as tf.image.resizeBilinear(..., halfPixelCenters = true) and
 * PIL / OpenCV do.
 */
export function bilinearResize(
  src: Float32Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  into?: Float32Array,
): Float32Array {
  if (src.length !== width * height * channels) {
    throw new RangeError(`source has ${src.length} values, expected ${width}x${height}x${channels}`);
  }
  if (into && into.length !== outWidth * outHeight * channels) {
    throw new RangeError(`output has ${into.length} values, expected ${outWidth}x${outHeight}x${channels}`);
  }
  const taps = (n: number, m: number) => {
    const lo = new Int32Array(m);
    const hi = new Int32Array(m);
    const t = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      const f = Math.min(n - 1, Math.max(0, (i + 0.5) * (n / m) - 0.5));
      lo[i] = Math.floor(f);
      hi[i] = Math.min(n - 1, lo[i]! + 1);
      t[i] = f - lo[i]!;
    }
    return { lo, hi, t };
  };
  const tx = taps(width, outWidth);
  const ty = taps(height, outHeight);
  // Columns first on the small image (cheap), then rows are blended into the large output.
  const wide = new Float32Array(height * outWidth * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const a = rowIn + tx.lo[x]! * channels;
      const b = rowIn + tx.hi[x]! * channels;
      const t = tx.t[x]!;
      for (let c = 0; c < channels; c++) wide[rowOut + x * channels + c] = src[a + c]! + (src[b + c]! - src[a + c]!) * t;
    }
  }
  const rowLen = outWidth * channels;
  const out = into ?? new Float32Array(outHeight * rowLen);
  // The large pass: a WebAssembly kernel (7 ms -> ~2 per 1024x1024 RGB output), the same values.
  if (blendRows(wide, rowLen, ty.lo, ty.hi, ty.t, out)) return out;
  for (let y = 0; y < outHeight; y++) {
    const a = ty.lo[y]! * rowLen;
    const b = ty.hi[y]! * rowLen;
    const t = ty.t[y]!;
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = wide[a + i]! + (wide[b + i]! - wide[a + i]!) * t;
  }
  return out;
}

/**
 * Any HWC array to a float image of outWidth x outHeight, values times `scale`: area averaging
 * when shrinking (no aliasing), bilinear when an image is smaller than the working size in
 * either dimension, a plain copy when the sizes agree.
 */
export function resampleTo(
  src: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  scale = 1,
): Float32Array {
  if (outWidth <= width && outHeight <= height) {
    if (outWidth === width && outHeight === height) return Float32Array.from(src, (v) => v * scale);
    return areaDownsample(src, width, height, channels, outWidth, outHeight, scale);
  }
  return bilinearResize(Float32Array.from(src, (v) => v * scale), width, height, channels, outWidth, outHeight);
}
