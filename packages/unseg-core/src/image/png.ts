import { crc32, createDeflate } from 'node:zlib';
import { deflateLiterals, upFilterScanlines } from '../pixels/kernels.js';
import { bytePool } from '../pixels/pool.js';
import type { RgbImage } from './types.js';

/** Options of encodePng. */
export interface PngOptions {
  /**
   * zlib level 0-9 with string matching, for images with long repeats (clean copies, flat
   * graphics), deflated by node's zlib on libuv's thread pool. Unset: Huffman coding only, by
   * this package's own coder (`deflateLiterals`), the fast choice for images that carry noise.
   */
  readonly level?: number;
}

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);
const IHDR = chunkType('IHDR');
const IDAT = chunkType('IDAT');
const IEND = chunkType('IEND');
/** A chunk's length, type and CRC around its data. */
const CHUNK_OVERHEAD = 12;
const IHDR_BYTES = 13;

/** Filtered scanlines of images being deflated; a few, as only a few are encoded at once. */
const scanlines = bytePool(4);

function chunkType(name: string): Uint8Array {
  return Uint8Array.from(name, (c) => c.charCodeAt(0));
}

function checkLevel(level: number | undefined): void {
  if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 9)) {
    throw new RangeError(`PNG level ${level}: expected an integer 0-9`);
  }
}

/** Deflates bytes on libuv's thread pool, keeping the output in the pieces zlib wrote. */
function deflatePieces(bytes: Uint8Array, level: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const pieces: Buffer[] = [];
    // One output piece as large as deflate's worst case (zlib's deflateBound is a little under
    // this), so zlib calls back once: with 256 KiB pieces the CLI published 3-8 % fewer images/s.
    const deflate = createDeflate({ level, chunkSize: bytes.length + (bytes.length >> 11) + 1024 });
    deflate.on('data', (piece: Buffer) => pieces.push(piece));
    deflate.on('error', reject);
    deflate.on('end', () => resolve(pieces));
    deflate.end(bytes);
  });
}

/**
 * Encodes 8-bit RGB pixels as a PNG file (the published images' encoder): every scanline
 * Up-filtered, one IDAT chunk, deflated as literals by this package's own coder
 * (`deflateLiterals`), or by node's zlib with string matching when a level is given.
 *
 * Why not sharp's PNG encoder: a noise-carrying photograph leaves deflate's string matching almost
 * nothing to find, so what shrinks it is the scanline filter plus Huffman coding. On 24 noised
 * 1024x1024 coco-facades images, with zlib's Huffman-only deflate in place of the coder, this
 * encoder took 15 ms of CPU per image to write 2.20 MB, where sharp took 43 ms for 2.84 MB at
 * level 3 and 25 ms for 3.24 MB at level 1 (`node tools/bench-throughput/png-cost.mjs --images
 * 24 --encoders sharp:1,sharp:3,unseg,unseg:1,unseg:6`, results/png-encoders-2026-11-26T21.json).
 * The coder then took deflate from about 17 ms to 5 (tools/bench-throughput/README.md, "A deflate
 * coder of our own").
 */
export async function encodePng(image: RgbImage, options: PngOptions = {}): Promise<Uint8Array> {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new RangeError(`encodePng: ${width}x${height} RGB needs ${width * height * 3} bytes, got ${data.length}`);
  }
  checkLevel(options.level);
  const filtered = scanlines.take((width * 3 + 1) * height);
  let pieces: Uint8Array[];
  try {
    upFilterScanlines(data, width * 3, height, filtered);
    pieces = options.level === undefined ? deflateLiterals(filtered) : await deflatePieces(filtered, options.level);
  } finally {
    scanlines.give([filtered]);
  }
  const idatBytes = pieces.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(SIGNATURE.length + 3 * CHUNK_OVERHEAD + IHDR_BYTES + idatBytes);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  let at = SIGNATURE.length;

  const header = new Uint8Array(IHDR_BYTES);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, width);
  headerView.setUint32(4, height);
  header[8] = 8; // bits per channel
  header[9] = 2; // colour type: RGB
  // bytes 10-12: deflate, adaptive filtering (type byte per scanline), no interlace: all 0
  at = writeChunk(out, view, at, IHDR, [header]);
  at = writeChunk(out, view, at, IDAT, pieces);
  writeChunk(out, view, at, IEND, []);
  return out;
}

function writeChunk(out: Uint8Array, view: DataView, at: number, type: Uint8Array, parts: readonly Uint8Array[]): number {
  const length = parts.reduce((n, p) => n + p.length, 0);
  view.setUint32(at, length);
  out.set(type, at + 4);
  let crc = crc32(type);
  let pos = at + 8;
  for (const part of parts) {
    out.set(part, pos);
    crc = crc32(part, crc);
    pos += part.length;
  }
  view.setUint32(pos, crc >>> 0);
  return pos + 4;
}
