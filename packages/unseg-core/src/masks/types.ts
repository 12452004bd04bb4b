/**
 * A run-length encoded binary mask in COCO's convention: counts alternate runs of 0 and 1,
 * starting with 0, over the pixels in column-major (Fortran) order. `size` is [height, width]
 * as in COCO JSON.
 */
export interface Rle {
  readonly height: number;
  readonly width: number;
  readonly counts: Uint32Array;
}

/** A decoded binary mask, row-major, one byte per pixel (0 or 1). */
export interface BinaryMask {
  readonly height: number;
  readonly width: number;
  readonly data: Uint8Array;
}
