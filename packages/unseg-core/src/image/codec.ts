import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { encodePng } from './png.js';
import type { RgbImage } from './types.js';

/** Images above this many pixels are refused before decoding (decompression bombs). */
export const DEFAULT_LIMIT_INPUT_PIXELS = 100_000_000;

export interface DecodeOptions {
  /** Refuse images with more pixels than this (sharp's limitInputPixels). */
  readonly limitInputPixels?: number;
}

/** What decoding did to make the image 8-bit sRGB, for the run's report. */
export interface DecodeInfo {
  readonly format: string;
  /** Channels and depth of the source, e.g. "4ch uchar" or "1ch ushort". */
  readonly source: string;
  /** Conversions applied, e.g. ["alpha removed", "16-bit reduced to 8-bit"]. */
  readonly conversions: readonly string[];
  /** EXIF orientation tag when present. It is recorded, never applied (see decodeRgb). */
  readonly exifOrientation: number | undefined;
}

/**
 * Decodes any image sharp reads into 8-bit sRGB, 3 channels. A truncated or corrupt file is an
 * error (failOn: 'error'), not a silently grey image. EXIF orientation is NOT applied: the
 * stored pixel grid is what COCO-style annotations are drawn on and what pycocotools /
 * PIL-based loaders read, and the published PNG carries no orientation tag, so image and
 * masks stay aligned for every consumer.
 */
export async function decodeRgb(
  input: string | Uint8Array,
  options: DecodeOptions = {},
): Promise<{ image: RgbImage; info: DecodeInfo }> {
  try {
    return await decodeOnce(input, options);
  } catch (error) {
    if (await isEmpty(input)) throw new Error('the file is empty (0 bytes)', { cause: error });
    // Seen with truncated JPEGs decoded several at a time: sharp sometimes reports "Unknown error"
    // where a lone decode of the same bytes names the fault ("premature end of JPEG image").
    // One more try usually gives the reason; if not, say what is known.
    if (!isUnknownError(error)) throw error;
    try {
      return await decodeOnce(input, options);
    } catch (again) {
      if (!isUnknownError(again)) throw again;
      throw new Error('the decoder gave no reason (the file may be truncated or corrupt)', { cause: again });
    }
  }
}

async function isEmpty(input: string | Uint8Array): Promise<boolean> {
  if (typeof input !== 'string') return input.byteLength === 0;
  try {
    return (await stat(input)).size === 0;
  } catch {
    return false;
  }
}

function isUnknownError(error: unknown): boolean {
  return error instanceof Error && /^\s*unknown error\s*$/i.test(error.message);
}

async function decodeOnce(input: string | Uint8Array, options: DecodeOptions): Promise<{ image: RgbImage; info: DecodeInfo }> {
  const limitInputPixels = options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  const source = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const pipeline = sharp(source, { failOn: 'error', limitInputPixels, sequentialRead: true });
  const meta = await pipeline.metadata();
  const conversions: string[] = [];
  if (meta.hasAlpha) conversions.push('alpha removed');
  if (meta.depth && meta.depth !== 'uchar' && meta.depth !== 'char') conversions.push(`${meta.depth} reduced to 8-bit`);
  if (meta.space && meta.space !== 'srgb') conversions.push(`${meta.space} converted to sRGB`);
  const { data, info } = await pipeline
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) {
    throw new Error(`decoded to ${info.channels} channels, expected 3`);
  }
  return {
    image: { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) },
    info: {
      format: meta.format ?? 'unknown',
      source: `${meta.channels ?? '?'}ch ${meta.depth ?? '?'}`,
      conversions,
      exifOrientation: meta.orientation,
    },
  };
}

export type EncodeOptions =
  /** compressionLevel: see PngOptions.level (unset: Huffman coding only, the fast default). */
  | { readonly format: 'png'; readonly compressionLevel?: number }
  | { readonly format: 'jpeg'; readonly quality?: number };

/** JPEG quality when `--encode jpeg` names none (4:4:4 chroma, so colour noise is not halved). */
export const DEFAULT_JPEG_QUALITY = 95;

export const DEFAULT_ENCODE: EncodeOptions = { format: 'png' };

/**
 * Encodes an RGB image: PNG with this package's encoder (png.ts says why not sharp's), JPEG with
 * sharp. PNG is lossless, so the published pixels are exactly the protected ones.
 */
export async function encodeRgb(image: RgbImage, options: EncodeOptions = DEFAULT_ENCODE): Promise<Uint8Array> {
  if (options.format === 'png') {
    return encodePng(image, options.compressionLevel === undefined ? {} : { level: options.compressionLevel });
  }
  const raw = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
  const out = await raw.jpeg({ quality: options.quality ?? DEFAULT_JPEG_QUALITY, chromaSubsampling: '4:4:4' }).toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function encodedExtension(options: EncodeOptions): string {
  return options.format === 'png' ? 'png' : 'jpg';
}
