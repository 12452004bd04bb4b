import type { FailureRecord, PublishedRecord } from '../shards/types.js';

/**
 * Progress as events: every hook is optional. The CLI's progress bar and its JSON-lines log are
 * two listeners of the same events.
 */
export interface PipelineListener {
  onStart?(info: { readonly split: string; readonly skipped: number; readonly noise: string; readonly total?: number }): void;
  onPublished?(record: PublishedRecord): void;
  onFailed?(failure: FailureRecord): void;
  /** A published image's source needed converting to 8-bit sRGB RGB, or carries an EXIF orientation. */
  onConverted?(info: ConversionInfo): void;
  onNoiseBatch?(info: { readonly images: number; readonly ms: number }): void;
  /**
   * Busy time of one stage for one image ('noise': one batch of `images`). Stages overlap
   * (codec work runs `concurrency` at once, beside the noise source), so these add up to more
   * than the wall time; they say where the work goes, for throughput profiles.
   */
  onStage?(info: StageTiming): void;
  onShardWritten?(info: { readonly split: string; readonly file: string; readonly rows: number; readonly failures: number }): void;
  onEnd?(summary: RunSummary): void;
}

/** decode: file to pixels; masks: prompt and labels; noise: the source's batch; apply: budget; encode; verify: re-decode and budget check; write: the shard writer. */
export type PipelineStage = 'decode' | 'masks' | 'noise' | 'apply' | 'encode' | 'verify' | 'write';

export interface StageTiming {
  readonly stage: PipelineStage;
  readonly ms: number;
  readonly images: number;
}

export interface ConversionInfo {
  readonly split: string;
  readonly position: number;
  readonly id: string;
  readonly file: string;
  /** What decoding did, e.g. "alpha removed", "ushort reduced to 8-bit", "cmyk converted to sRGB". */
  readonly conversions: readonly string[];
  /** The EXIF orientation tag (2..8) when present: recorded, not applied (see decodeRgb). */
  readonly exifOrientation: number | undefined;
}

export interface RunSummary {
  readonly published: number;
  readonly failed: number;
  readonly skipped: number;
  readonly seconds: number;
  readonly outDir?: string;
  /** Published images per conversion (and "EXIF orientation recorded, not applied"). */
  readonly conversions?: Readonly<Record<string, number>>;
}

/** Fans one event out to several listeners. */
export function combineListeners(...listeners: (PipelineListener | undefined)[]): PipelineListener {
  const active = listeners.filter((l): l is PipelineListener => l !== undefined);
  return {
    onStart: (i) => active.forEach((l) => l.onStart?.(i)),
    onPublished: (r) => active.forEach((l) => l.onPublished?.(r)),
    onFailed: (f) => active.forEach((l) => l.onFailed?.(f)),
    onConverted: (i) => active.forEach((l) => l.onConverted?.(i)),
    onNoiseBatch: (i) => active.forEach((l) => l.onNoiseBatch?.(i)),
    onStage: (i) => active.forEach((l) => l.onStage?.(i)),
    onShardWritten: (i) => active.forEach((l) => l.onShardWritten?.(i)),
    onEnd: (s) => active.forEach((l) => l.onEnd?.(s)),
  };
}
