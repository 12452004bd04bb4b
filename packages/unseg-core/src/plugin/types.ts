import type { Rle } from '../masks/types.js';
import type { SampleError } from '../errors.js';
import type { DatasetExportHook } from '../export/types.js';

/**
 * The version of the plugin contract this build of @unseg/core implements. A plugin declares
 * the contract it was written for; the engine refuses a plugin whose major contract differs.
 * Rules: adding optional members keeps the number; removing or changing a member's meaning
 * increments it. See docs/plugins.md.
 */
export const PLUGIN_CONTRACT_VERSION = 1;

/** Where a sample's image comes from: a file inside the dataset root, or bytes in memory. */
export type ImageSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly name: string };

/** One annotated object (instance or stuff segment) of a sample. */
export interface SampleObject {
  /** The annotation's own id in its source format. */
  readonly id: string;
  readonly categoryId: number;
  readonly category: string;
  /** True when the format marks this category as a countable "thing" (COCO isthing, Cityscapes instances). */
  readonly isThing: boolean;
  /** COCO iscrowd: the region is a crowd; it is never part of the prompt. */
  readonly isCrowd: boolean;
  /** [x, y, width, height] in pixels, when the format gives one. */
  readonly bbox?: readonly [number, number, number, number];
  /** The mask, decoded lazily; rejects with a SampleError naming the file when it is malformed. */
  mask(): Promise<Rle>;
  /** The original annotation record, untouched, for export and debugging. */
  readonly annotation: unknown;
}

/** What every plugin yields: one image and its objects, format-independent. */
export interface Sample {
  /** Stable across runs and machines; unique within a split. Used for sharding and resume. */
  readonly id: string;
  readonly split: string;
  readonly image: ImageSource;
  /** Size claimed by the annotation; the engine checks it against the decoded image. */
  readonly width: number;
  readonly height: number;
  readonly objects: readonly SampleObject[];
  /** Format-specific extras kept for export (e.g. the COCO image record). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** A category as the format defines it. */
export interface Category {
  readonly id: number;
  readonly name: string;
  readonly isThing: boolean;
  readonly supercategory?: string;
}

export interface OpenOptions {
  /** Follow symbolic links that lead outside the dataset root (off by default). */
  readonly followSymlinks?: boolean;
}

/**
 * A dataset opened by a plugin. `samples(split)` must yield in a deterministic order (the
 * same on every run and machine): resume and sharding depend on it. A sample that cannot be
 * read is yielded as a SampleError instead of thrown, so the run goes on.
 */
export interface DatasetReader {
  readonly root: string;
  splits(): Promise<string[]>;
  categories(split: string): Promise<readonly Category[]>;
  samples(split: string): AsyncIterable<Sample | SampleError>;
}

/** A dataset format. Make one with a factory function returning this plain object. */
export interface DatasetPlugin {
  /** Short name used on the command line, e.g. "coco". */
  readonly name: string;
  /** The plugin's own version (semver). */
  readonly version: string;
  /** The PLUGIN_CONTRACT_VERSION this plugin was written against. */
  readonly contract: number;
  readonly description?: string;
  /** Cheap check whether `root` looks like this format (used by auto-detection). */
  detect(root: string): Promise<boolean>;
  open(root: string, options?: OpenOptions): Promise<DatasetReader>;
  /**
   * Optional (added in contract 1 without a version change): writes one split of a run's
   * published rows back in this format's own layout, for `unseg-pipeline export`.
   */
  readonly export?: DatasetExportHook;
}
