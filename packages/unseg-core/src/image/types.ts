/** An 8-bit RGB image, row-major, interleaved (HWC), 3 bytes per pixel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}
