import type { RgbImage } from '../image/types.js';
import type { BinaryMask } from '../masks/types.js';

/**
 * The label of a pixel that no object covers, in {@link NoiseRequest.labels}. Not 0: COCO files
 * made by converters that number classes from 0 give real objects category 0, and those must get
 * their class's code like any other.
 */
export const NO_OBJECT = -1;

/** What a noise source sees of one sample. */
export interface NoiseRequest {
  readonly id: string;
  readonly image: RgbImage;
  /** The prompt: pixels that get the foreground budget (1) or the background budget (0). */
  readonly prompt: BinaryMask;
  /**
   * Per-pixel category id, row-major, {@link NO_OBJECT} (-1) where no object is; where objects overlap,
   * the smaller one's. Category 0 is a category like any other (converters that number classes
   * from 0 use it); until the night of 2026-11-28 it shared 0 with "no object" and got no class-wise code.
   * Present only when the source sets `needsLabels` (class-wise baselines need it, the generator
   * does not). Crowd regions are left out.
   */
  readonly labels?: Int32Array;
}

/**
 * A source of noise *directions*: for each image, a Float32Array of width*height*3 values in
 * [-1, 1] (HWC). The engine scales it by eps_fg inside the prompt and eps_bg outside, adds it
 * and clamps (see applyBudgetedNoise), so no source can exceed the budget.
 */
export interface NoiseSource {
  readonly name: string;
  /** One line for summaries and manifests: what this source is, and its weights if any. */
  readonly description: string;
  /** How many images the engine should hand over at once. */
  readonly batchSize: number;
  readonly needsLabels?: boolean;
  generate(batch: readonly NoiseRequest[]): Promise<Float32Array[]>;
  /**
   * Optional: the engine hands back the arrays of one `generate` call once it has applied them,
   * and never reads them again, so the source may reuse them for a later batch (a 1024x1024
   * image's directions are 12 MB; allocating them anew per image is a measurable cost). A source
   * must not return one array twice within a batch, nor hand out an array it has not got back.
   */
  release?(directions: readonly Float32Array[]): void;
  /** Settings worth recording in the manifest (model id, resolution, seed). */
  readonly settings?: Readonly<Record<string, unknown>>;
  dispose?(): Promise<void>;
}

/** The per-region budget, as fractions of the 0..1 intensity range (8/255 is 0.0313...). */
export interface NoiseBudget {
  readonly epsFg: number;
  readonly epsBg: number;
}
