/** One object of a published sample, as stored in a shard. */
export interface PublishedObject {
  readonly id: string;
  readonly categoryId: number;
  readonly category: string;
  readonly isThing: boolean;
  readonly isCrowd: boolean;
  /** [x, y, w, h] from the mask. */
  readonly bbox: readonly [number, number, number, number];
  readonly area: number;
  /** COCO compressed RLE counts string; the mask's size is the record's height x width. */
  readonly rle: string;
  /** The original annotation, JSON-encoded. */
  readonly annotation: string;
}

/** Per-sample noise statistics, measured on the published (re-decoded) pixels. */
export interface NoiseStats {
  /** Largest |published - original| inside the prompt, in 0..255 units. */
  readonly maxAbsFg: number;
  /** Largest |published - original| outside the prompt, in 0..255 units. */
  readonly maxAbsBg: number;
  /** Mean absolute change over all channels and pixels, in 0..255 units. */
  readonly meanAbs: number;
  /** PSNR of published vs original in dB (Infinity when identical). */
  readonly psnr: number;
  /** Share of pixels inside the prompt. */
  readonly promptFraction: number;
}

/** One row of a shard: a protected image with everything needed to train on it. */
export interface PublishedRecord {
  /** Position of the sample in its split's deterministic order (resume and sharding key). */
  readonly position: number;
  readonly id: string;
  readonly split: string;
  readonly width: number;
  readonly height: number;
  /** Hugging Face Image: encoded bytes and a file name (e.g. "<id>.png"). */
  readonly image: { readonly bytes: Uint8Array; readonly path: string };
  /** Path of the source image relative to the dataset root. */
  readonly sourcePath: string;
  readonly objects: readonly PublishedObject[];
  readonly noise: NoiseStats;
}

/** A sample that could not be published, and why. */
export interface FailureRecord {
  readonly position: number;
  readonly split: string;
  readonly id: string | undefined;
  readonly file: string;
  readonly code: string;
  readonly reason: string;
}
