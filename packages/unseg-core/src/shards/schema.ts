import type { PublishedRecord } from './types.js';

/**
 * The one description of a shard's columns. Parquet schema elements, the Arrow schema and the
 * Hugging Face `features` are all derived from it so the three can never drift apart.
 */
export type ShardColumnType =
  | 'int64'
  | 'int32'
  | 'float64'
  | 'bool'
  | 'string'
  | 'binary'
  | { readonly struct: readonly ShardColumn[]; readonly hf?: 'Image' }
  | { readonly list: ShardColumnType };

/** One named column (or struct field) of a shard. */
export interface ShardColumn {
  readonly name: string;
  readonly type: ShardColumnType;
}

const OBJECT_FIELDS: readonly ShardColumn[] = [
  { name: 'id', type: 'string' },
  { name: 'category_id', type: 'int64' },
  { name: 'category', type: 'string' },
  { name: 'is_thing', type: 'bool' },
  { name: 'is_crowd', type: 'bool' },
  // float64, not int: COCO's own bbox and area are floats, and integers survive a double exactly.
  { name: 'bbox', type: { list: 'float64' } },
  { name: 'area', type: 'float64' },
  { name: 'rle', type: 'string' },
  { name: 'annotation', type: 'string' },
];

/**
 * The columns of every shard, in order. `image` is exactly Hugging Face's Image storage type
 * (`struct<bytes: binary, path: string>`), which is what makes `datasets` decode it.
 */
export const SHARD_COLUMNS: readonly ShardColumn[] = [
  { name: 'position', type: 'int64' },
  { name: 'id', type: 'string' },
  { name: 'split', type: 'string' },
  { name: 'width', type: 'int32' },
  { name: 'height', type: 'int32' },
  {
    name: 'image',
    type: {
      struct: [
        { name: 'bytes', type: 'binary' },
        { name: 'path', type: 'string' },
      ],
      hf: 'Image',
    },
  },
  { name: 'source_path', type: 'string' },
  { name: 'objects', type: { list: { struct: OBJECT_FIELDS } } },
  { name: 'noise_max_abs_fg', type: 'float64' },
  { name: 'noise_max_abs_bg', type: 'float64' },
  { name: 'noise_mean_abs', type: 'float64' },
  { name: 'noise_psnr', type: 'float64' },
  { name: 'noise_prompt_fraction', type: 'float64' },
];

/** A row as the encoders consume it: snake_case keys matching {@link SHARD_COLUMNS}. */
export interface ShardRow {
  position: bigint;
  id: string;
  split: string;
  width: number;
  height: number;
  image: { bytes: Uint8Array; path: string };
  source_path: string;
  objects: {
    id: string;
    category_id: bigint;
    category: string;
    is_thing: boolean;
    is_crowd: boolean;
    bbox: number[];
    area: number;
    rle: string;
    annotation: string;
  }[];
  noise_max_abs_fg: number;
  noise_max_abs_bg: number;
  noise_mean_abs: number;
  noise_psnr: number;
  noise_prompt_fraction: number;
}

/** Converts a record to the row layout; int64 values become bigint as both writers require. */
export function recordToRow(r: PublishedRecord): ShardRow {
  return {
    position: BigInt(r.position),
    id: r.id,
    split: r.split,
    width: r.width,
    height: r.height,
    image: { bytes: r.image.bytes, path: r.image.path },
    source_path: r.sourcePath,
    objects: r.objects.map((o) => ({
      id: o.id,
      category_id: BigInt(o.categoryId),
      category: o.category,
      is_thing: o.isThing,
      is_crowd: o.isCrowd,
      bbox: [...o.bbox],
      area: o.area,
      rle: o.rle,
      annotation: o.annotation,
    })),
    noise_max_abs_fg: r.noise.maxAbsFg,
    noise_max_abs_bg: r.noise.maxAbsBg,
    noise_mean_abs: r.noise.meanAbs,
    noise_psnr: r.noise.psnr,
    noise_prompt_fraction: r.noise.promptFraction,
  };
}

const HF_DTYPE: Record<string, string> = {
  int64: 'int64',
  int32: 'int32',
  float64: 'float64',
  bool: 'bool',
  string: 'string',
  binary: 'binary',
};

function hfFeature(type: ShardColumnType): unknown {
  if (typeof type === 'string') return { dtype: HF_DTYPE[type], _type: 'Value' };
  if ('list' in type) {
    // A one-element JSON list is the list notation that both datasets<4 (plain list of the
    // inner feature) and datasets>=4 (converted to List on load) read as a list of values.
    // `Sequence` would turn a list of structs into a struct of lists in datasets<4, and
    // `{"_type":"List"}` is unknown to datasets<4.
    return [hfFeature(type.list)];
  }
  if (type.hf === 'Image') return { _type: 'Image' };
  return Object.fromEntries(type.struct.map((f) => [f.name, hfFeature(f.type)]));
}

/**
 * The `features` dict that Hugging Face `datasets` reads from the `huggingface` key-value
 * metadata of a Parquet file or Arrow schema (`{"info": {"features": ...}}`).
 */
export function huggingfaceFeatures(): Record<string, unknown> {
  return Object.fromEntries(SHARD_COLUMNS.map((c) => [c.name, hfFeature(c.type)]));
}

/** The value of the `huggingface` metadata key written into every shard. */
export function huggingfaceMetadataJson(): string {
  return JSON.stringify({ info: { features: huggingfaceFeatures() } });
}

function typeSummary(type: ShardColumnType): string {
  if (typeof type === 'string') return type;
  if ('list' in type) return `list<${typeSummary(type.list)}>`;
  return `struct<${type.struct.map((f) => `${f.name}: ${typeSummary(f.type)}`).join(', ')}>`;
}

/** A readable summary of the shard schema (`[{name, type}]`), as stored in the manifest. */
export function shardSchemaSummary(): { name: string; type: string }[] {
  return SHARD_COLUMNS.map((c) => ({ name: c.name, type: typeSummary(c.type) }));
}
