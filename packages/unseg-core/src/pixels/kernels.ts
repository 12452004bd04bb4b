import { canonicalCodes, END_OF_BLOCK, huffmanLengths, literalBlockHeader, MAX_LITERAL_BITS } from './huffman.js';
import { PIXELS_WASM_BASE64 } from './pixels-wasm.js';

/**
 * The two per-pixel passes every published image goes through (budgeted noise, and the budget
 * check on what was encoded), as WebAssembly SIMD kernels: 16 pixels per step instead of one.
 * On a 1024x1024 image they take about 5 and 3 ms where the scalar loops took 20 and 15, and on
 * a 2-core machine that time is taken from the codecs (tools/bench-throughput). The uniform
 * noise source's directions are made here too, for the same reason.
 *
 * Images go through the kernels in chunks of CHUNK_PIXELS, so the module's memory stays at
 * about 1.3 MB whatever the image size, and each chunk stays in cache between copy and kernel.
 */
const CHUNK_PIXELS = 65536; // a multiple of the kernels' 16-pixel block
const BLOCK = 16;
const CHUNK_BYTES = CHUNK_PIXELS * 3;

// The few WebAssembly globals used here: Node has them, but this project's TypeScript libs
// (ES2023 + @types/node 20) do not declare them.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface PixelExports {
  memory: WasmMemory;
  apply(img: number, noise: number, mask: number, out: number, blocks: number, scaleFg: number, scaleBg: number, limitFg: number, limitBg: number): void;
  measure(a: number, b: number, mask: number, blocks: number, result: number): void;
  uniform(seed: number, firstWord: number, steps: number, out: number): void;
  subtract(a: number, b: number, out: number, blocks: number): void;
  histogram(src: number, n: number, counts: number, scratch: number): void;
  putBits(value: number, count: number, out: number): number;
  huffman(src: number, n: number, table: number, out: number): number;
  flushBits(out: number): number;
  adler32(src: number, n: number, adler: number): number;
  lerp(a: number, b: number, t: number, out: number, blocks: number): void;
}

// Byte offsets in the module's memory, one region per operand.
const AT_A = 0;
const AT_NOISE = AT_A + CHUNK_PIXELS * 3;
const NOISE_REGION_BYTES = CHUNK_PIXELS * 12; // float32 directions, three per pixel
const AT_MASK = AT_NOISE + NOISE_REGION_BYTES;
const AT_B = AT_MASK + CHUNK_PIXELS;
const AT_RESULT = AT_B + CHUNK_PIXELS * 3;
const MEMORY_BYTES = AT_RESULT + 64;
// The deflate coder reuses them: its input chunk at AT_A, its output in the noise region (room
// for 15 bits per byte and a header), its tables in the second image region.
const AT_DEFLATE_OUT = AT_NOISE;
const AT_CODES = AT_B;
const AT_COUNTS = AT_B + 1024;
const AT_COUNT_SCRATCH = AT_B + 2048;

let instance: PixelExports | undefined;

function kernels(): PixelExports {
  if (!instance) {
    // Synchronous compile: the module is 1.3 kB, and a sync API keeps callers unchanged.
    const module = new wasm.Module(Buffer.from(PIXELS_WASM_BASE64, 'base64'));
    const exports = new wasm.Instance(module).exports as PixelExports;
    const pages = Math.ceil(MEMORY_BYTES / 65536) - exports.memory.buffer.byteLength / 65536;
    if (pages > 0) exports.memory.grow(pages);
    instance = exports;
  }
  return instance;
}

/** How noise becomes 8-bit steps in each region: step = clamp(floor(noise * scale + 0.5), -limit, limit). */
export interface StepRule {
  scaleFg: number;
  scaleBg: number;
  limitFg: number;
  limitBg: number;
}

/**
 * out = clamp(image + step(noise, region), 0, 255) for interleaved RGB bytes, the region of each
 * pixel given by mask (non-zero: foreground). Products are taken in float32; NaN noise adds 0.
 */
export function applyNoisePixels(image: Uint8Array, noise: Float32Array, mask: Uint8Array, out: Uint8Array, rule: StepRule): void {
  const k = kernels();
  const pixels = mask.length;
  for (let start = 0; start < pixels; start += CHUNK_PIXELS) {
    const count = Math.min(CHUNK_PIXELS, pixels - start);
    const memory = new Uint8Array(k.memory.buffer);
    memory.set(image.subarray(start * 3, (start + count) * 3), AT_A);
    new Float32Array(k.memory.buffer, AT_NOISE, CHUNK_PIXELS * 3).set(noise.subarray(start * 3, (start + count) * 3));
    memory.set(mask.subarray(start, start + count), AT_MASK);
    // Padding pixels of the last block hold stale values; their output is not copied out.
    k.apply(AT_A, AT_NOISE, AT_MASK, AT_B, Math.ceil(count / BLOCK), rule.scaleFg, rule.scaleBg, rule.limitFg, rule.limitBg);
    out.set(memory.subarray(AT_B, AT_B + count * 3), start * 3);
  }
}

/** Per-region maximum of |b - a| over channels, and totals over every channel value. */
export interface PixelDifference {
  maxAbsFg: number;
  maxAbsBg: number;
  sumAbs: number;
  sumSq: number;
  /** Pixels where mask is non-zero. */
  promptPixels: number;
}

/** Compares two interleaved RGB byte images pixel by pixel, split by mask. */
export function measurePixels(a: Uint8Array, b: Uint8Array, mask: Uint8Array): PixelDifference {
  const k = kernels();
  const pixels = mask.length;
  const total: PixelDifference = { maxAbsFg: 0, maxAbsBg: 0, sumAbs: 0, sumSq: 0, promptPixels: 0 };
  for (let start = 0; start < pixels; start += CHUNK_PIXELS) {
    const count = Math.min(CHUNK_PIXELS, pixels - start);
    const padded = Math.ceil(count / BLOCK) * BLOCK;
    const memory = new Uint8Array(k.memory.buffer);
    memory.set(a.subarray(start * 3, (start + count) * 3), AT_A);
    memory.set(b.subarray(start * 3, (start + count) * 3), AT_B);
    memory.set(mask.subarray(start, start + count), AT_MASK);
    // Padding must compare equal and lie outside the prompt, or it would count.
    memory.fill(0, AT_A + count * 3, AT_A + padded * 3);
    memory.fill(0, AT_B + count * 3, AT_B + padded * 3);
    memory.fill(0, AT_MASK + count, AT_MASK + padded);
    k.measure(AT_A, AT_B, AT_MASK, padded / BLOCK, AT_RESULT);
    const [maxFg, maxBg, sumAbs, sumSq, promptPixels] = new Float64Array(k.memory.buffer, AT_RESULT, 5);
    total.maxAbsFg = Math.max(total.maxAbsFg, maxFg!);
    total.maxAbsBg = Math.max(total.maxAbsBg, maxBg!);
    total.sumAbs += sumAbs!;
    total.sumSq += sumSq!;
    total.promptPixels += promptPixels!;
  }
  return total;
}

/**
 * Fills out with uniform directions from the mulberry32 stream of seed (seeded.ts): value i is
 * (b + 0.5) / 128 - 1, b the byte i of the stream, each 32-bit value giving four bytes, low byte
 * first. 256 levels in (-1, 1), four per draw.
 */
export function mulberry32Directions(seed: number, out: Float32Array): Float32Array {
  const k = kernels();
  const chunkValues = CHUNK_PIXELS * 3; // a multiple of 16: chunks start on whole words
  for (let start = 0; start < out.length; start += chunkValues) {
    const count = Math.min(chunkValues, out.length - start);
    k.uniform(seed | 0, start / 4, Math.ceil(count / 16), AT_NOISE);
    out.set(new Float32Array(k.memory.buffer, AT_NOISE, count), start);
  }
  return out;
}

/** PNG's filter type byte for "Up": each byte minus the byte above it. */
const PNG_FILTER_UP = 2;

/**
 * Writes `rows` scanlines of `rowBytes` bytes each from data into out as PNG filtered scanlines
 * (out.length = rows * (rowBytes + 1)), every one with the Up filter. Up, because it is the one
 * filter with no dependency along the row, so it runs 16 bytes per step; on noise-carrying
 * photographs it gave output within 3 % of Paeth's after deflate.
 */
export function upFilterScanlines(data: Uint8Array, rowBytes: number, rows: number, out: Uint8Array): void {
  const stride = rowBytes + 1;
  if (data.length < rowBytes * rows || out.length < stride * rows) {
    throw new RangeError(`upFilterScanlines: ${rows} rows of ${rowBytes} bytes need ${rowBytes * rows} in and ${stride * rows} out`);
  }
  for (let y = 0; y < rows; y++) out[y * stride] = PNG_FILTER_UP;
  if (rows === 0) return;
  // The row above the first is zeros: its filtered bytes are its own.
  out.set(data.subarray(0, rowBytes), 1);
  const k = kernels();
  const total = rowBytes * rows;
  for (let start = rowBytes; start < total; start += CHUNK_BYTES) {
    const count = Math.min(CHUNK_BYTES, total - start);
    const memory = new Uint8Array(k.memory.buffer);
    memory.set(data.subarray(start, start + count), AT_A);
    memory.set(data.subarray(start - rowBytes, start - rowBytes + count), AT_B);
    // Padding bytes of the last block are stale; they are not copied out.
    k.subtract(AT_A, AT_B, AT_NOISE, Math.ceil(count / BLOCK));
    // The chunk is a run of image bytes; each scanline's part goes after its filter byte.
    for (let pos = start; pos < start + count; ) {
      const y = Math.floor(pos / rowBytes);
      const end = Math.min((y + 1) * rowBytes, start + count);
      out.set(memory.subarray(AT_NOISE + pos - start, AT_NOISE + end - start), y * stride + 1 + pos - y * rowBytes);
      pos = end;
    }
  }
}

/**
 * bytes as a zlib stream (RFC 1950) whose deflate blocks hold literals only, one block per chunk
 * of CHUNK_BYTES, each with its own Huffman code: what zlib's Huffman-only strategy writes,
 * in about a third of its time (no intermediate symbol buffer, a branch-free bit writer), and as
 * small, since data that has been filtered and carries noise leaves string matching nothing to
 * find. Returned as the pieces written, in order, to be concatenated.
 */
export function deflateLiterals(bytes: Uint8Array): Uint8Array[] {
  const k = kernels();
  // zlib's two header bytes: deflate, 32 KiB window, no dictionary, "fastest" level.
  const pieces: Uint8Array[] = [Uint8Array.of(0x78, 0x01)];
  k.flushBits(AT_DEFLATE_OUT); // a writer left mid-stream by an exception starts empty
  let adler = 1;
  let start = 0;
  do {
    const count = Math.min(CHUNK_BYTES, bytes.length - start);
    const final = start + count === bytes.length;
    const memory = new Uint8Array(k.memory.buffer);
    memory.set(bytes.subarray(start, start + count), AT_A);
    memory.fill(0, AT_COUNTS, AT_COUNTS + 1024);
    k.histogram(AT_A, count, AT_COUNTS, AT_COUNT_SCRATCH);
    const frequencies = new Uint32Array(END_OF_BLOCK + 1);
    frequencies.set(new Uint32Array(k.memory.buffer, AT_COUNTS, 256));
    frequencies[END_OF_BLOCK] = 1;
    const lengths = huffmanLengths(frequencies, MAX_LITERAL_BITS);
    const codes = canonicalCodes(lengths);
    const table = new Uint32Array(k.memory.buffer, AT_CODES, 256);
    for (let b = 0; b < 256; b++) table[b] = codes[b]! | (lengths[b]! << 16);
    let at = AT_DEFLATE_OUT;
    for (const [value, bits] of literalBlockHeader(lengths, final)) at += k.putBits(value, bits, at);
    at += k.huffman(AT_A, count, AT_CODES, at);
    at += k.putBits(codes[END_OF_BLOCK]!, lengths[END_OF_BLOCK]!, at);
    if (final) at += k.flushBits(at);
    adler = k.adler32(AT_A, count, adler);
    pieces.push(memory.slice(AT_DEFLATE_OUT, at));
    start += count;
  } while (start < bytes.length);
  const trailer = new Uint8Array(4);
  new DataView(trailer.buffer).setUint32(0, adler >>> 0);
  pieces.push(trailer);
  return pieces;
}

/**
 * The row pass of a bilinear resize: output row y is rows lo[y] and hi[y] of `rows` (each rowLen
 * values long) blended by t[y], value by value as a + (b - a) * t, with the same result as that
 * expression in JavaScript. Two source rows and a batch of output rows share the noise region;
 * returns false, writing nothing, for rows too long to fit three of them there (over 21,845
 * RGB pixels), which the caller then blends itself.
 */
export function blendRows(rows: Float32Array, rowLen: number, lo: Int32Array, hi: Int32Array, t: Float32Array, out: Float32Array): boolean {
  const stride = Math.ceil(rowLen / 4) * 4; // whole 4-value steps, so padding never lands in the next row
  const rowBytes = stride * 4;
  const batch = Math.floor((NOISE_REGION_BYTES - 2 * rowBytes) / rowBytes);
  if (batch < 1) return false;
  const k = kernels();
  const slots = [AT_NOISE, AT_NOISE + rowBytes];
  const held = [-1, -1];
  const atOut = AT_NOISE + 2 * rowBytes;
  const outRows = lo.length;
  const load = (slot: number, row: number) => {
    if (held[slot] === row) return;
    new Float32Array(k.memory.buffer, slots[slot]!, rowLen).set(rows.subarray(row * rowLen, (row + 1) * rowLen));
    held[slot] = row;
  };
  for (let y0 = 0; y0 < outRows; y0 += batch) {
    const y1 = Math.min(outRows, y0 + batch);
    for (let y = y0; y < y1; y++) {
      load(0, lo[y]!);
      load(1, hi[y]!);
      k.lerp(slots[0]!, slots[1]!, t[y]!, atOut + (y - y0) * rowBytes, stride / 4);
    }
    const done = new Float32Array(k.memory.buffer, atOut, (y1 - y0) * stride);
    for (let y = y0; y < y1; y++) out.set(done.subarray((y - y0) * stride, (y - y0) * stride + rowLen), y * rowLen);
  }
  return true;
}
