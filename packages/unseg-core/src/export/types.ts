/** One object of a published row, as an export hook receives it. */
export interface ExportObject {
  readonly id: string;
  readonly categoryId: number;
  readonly category: string;
  readonly isThing: boolean;
  readonly isCrowd: boolean;
  readonly bbox: readonly number[];
  readonly area: number;
  /** COCO compressed RLE counts at the row's height x width. */
  readonly rle: string;
  /** The original annotation record, parsed from the shard's JSON (undefined when it does not parse). */
  readonly annotation: unknown;
}

/** One published row of a shard. Every string in it comes from a file: treat it as untrusted. */
export interface ExportRow {
  readonly position: number;
  readonly id: string;
  readonly split: string;
  readonly width: number;
  readonly height: number;
  /** The published image: encoded bytes and its path relative to the dataset root (unvalidated). */
  readonly image: { readonly bytes: Uint8Array; readonly path: string };
  /** The source image's path relative to the dataset root the run was given (unvalidated). */
  readonly sourcePath: string;
  readonly objects: readonly ExportObject[];
}

/**
 * Where an export hook writes. Every path is relative to the export folder with `/` separators;
 * absolute paths, `..`, empty or `.` segments, backslashes and NUL are refused, as is a path that
 * already exists (so two rows naming one file are caught, not silently overwritten) and one whose
 * folder is a symbolic link leading out of the export folder.
 */
export interface ExportTarget {
  /** The export folder (absolute). */
  readonly root: string;
  /** Writes a new file; resolves to its absolute path. */
  write(relPath: string, data: Uint8Array | string): Promise<string>;
  /**
   * Copies a file of the original dataset: `originalRel` is checked to stay inside the original
   * root (symbolic links out of it refused) before it is read.
   */
  copyFromOriginal(originalRel: string, relPath: string): Promise<string>;
  /**
   * Reads a file of the original dataset, with the same checks as `copyFromOriginal`: for a
   * hook that must compare it with the rows before it trusts it (the original may have changed
   * since the run).
   */
  readOriginal(originalRel: string): Promise<Uint8Array>;
}

/** One split handed to a plugin's `export` hook. */
export interface ExportJob {
  readonly split: string;
  /** The split's published rows, in position order; read them once. */
  readonly rows: AsyncIterable<ExportRow>;
  /**
   * The original dataset folder (the run's `--in`), when it is available and its use was not
   * turned off: annotations not stored in the shards (COCO categories, info, licences) come
   * from it. Undefined means: rebuild from the rows alone.
   */
  readonly original: string | undefined;
  readonly out: ExportTarget;
}

/** What an export hook reports for one split. */
export interface ExportSplitResult {
  readonly images: number;
  /** Where the annotations came from. */
  readonly annotations: 'original' | 'shards';
  /** Annotation files written, relative to the export folder. */
  readonly annotationFiles: readonly string[];
  /** Things a user should know (images dropped, fields that could not be rebuilt). */
  readonly notes: readonly string[];
}

/** The `export` member of a DatasetPlugin: writes one split in the format's own layout. */
export type DatasetExportHook = (job: ExportJob) => Promise<ExportSplitResult>;
