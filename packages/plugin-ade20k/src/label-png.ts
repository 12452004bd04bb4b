import sharp from 'sharp';

/**
 * Decodes an ADE20K class-index PNG after checking, from the headers alone, that it is one 8-bit
 * channel (a palette or RGB PNG would be expanded to colours by the decoder and its indices
 * silently lost) and, when `size` is given, that it has that size. A string says what is wrong.
 */
export async function decodeClassIndexPng(
  png: string | Uint8Array,
  size?: { readonly width: number | undefined; readonly height: number | undefined },
): Promise<{ width: number; height: number; data: Uint8Array } | string> {
  const pm = await sharp(png).metadata();
  if (pm.isPalette || pm.channels !== 1 || pm.depth !== 'uchar') {
    return `annotation PNG must be 8-bit single-channel class indices; it is ${pm.isPalette ? 'a palette image' : `${pm.channels}-channel ${pm.depth}`}`;
  }
  if (size && (pm.width !== size.width || pm.height !== size.height)) {
    return `annotation PNG is ${pm.width}x${pm.height} but the image is ${size.width}x${size.height}`;
  }
  const { width, height } = pm;
  const { data, info } = await sharp(png, { failOn: 'error', limitInputPixels: width * height })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 || data.length !== width * height) return 'annotation PNG decoded to an unexpected layout';
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
