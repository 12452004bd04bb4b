import { readFile } from 'node:fs/promises';
import { tableFromIPC } from 'apache-arrow';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { ExportObject, ExportRow } from './types.js';

// Rows per read: a shard holds up to a few hundred full-size PNGs; reading it whole would hold
// them all in memory at once.
const CHUNK_ROWS = 8;

const str = (v: unknown): string => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v === undefined || v === null ? '' : String(v));
const bytesOf = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : typeof v === 'string' ? new TextEncoder().encode(v) : new Uint8Array());

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function toObject(o: Record<string, unknown>): ExportObject {
  return {
    id: str(o.id),
    categoryId: Number(o.category_id),
    category: str(o.category),
    isThing: Boolean(o.is_thing),
    isCrowd: Boolean(o.is_crowd),
    bbox: Array.isArray(o.bbox) ? o.bbox.map(Number) : [],
    area: Number(o.area),
    rle: str(o.rle),
    annotation: parseJson(str(o.annotation)),
  };
}

/** A shard row (as hyparquet or Arrow's toJSON gives it) as an {@link ExportRow}. */
export function toExportRow(r: Record<string, unknown>): ExportRow {
  const image = (r.image ?? {}) as Record<string, unknown>;
  const objects = Array.isArray(r.objects) ? (r.objects as Record<string, unknown>[]) : [];
  return {
    position: Number(r.position),
    id: str(r.id),
    split: str(r.split),
    width: Number(r.width),
    height: Number(r.height),
    image: { bytes: bytesOf(image.bytes), path: str(image.path) },
    sourcePath: str(r.source_path),
    objects: objects.map(toObject),
  };
}

const COLUMNS = ['position', 'id', 'split', 'width', 'height', 'image', 'source_path', 'objects'];

/** The rows of one shard file, a few at a time. */
export async function* readShardRows(file: string, format: 'parquet' | 'arrow'): AsyncGenerator<ExportRow> {
  if (format === 'parquet') {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    const total = Number(metadata.num_rows);
    for (let start = 0; start < total; start += CHUNK_ROWS) {
      const rows = await parquetReadObjects({
        file: buffer,
        metadata,
        columns: COLUMNS,
        rowStart: start,
        rowEnd: Math.min(total, start + CHUNK_ROWS),
        // Image bytes are plain BYTE_ARRAY: decoding them as text would corrupt them.
        utf8: false,
      });
      for (const r of rows) yield toExportRow(r);
    }
    return;
  }
  const table = tableFromIPC(await readFile(file));
  for (const r of table.toArray() as { toJSON(): Record<string, unknown> }[]) {
    const o = r.toJSON();
    const image = o.image as { toJSON?: () => Record<string, unknown> } | undefined;
    const objects = o.objects as { toArray?: () => { toJSON(): Record<string, unknown> }[] } | undefined;
    yield toExportRow({ ...o, image: image?.toJSON?.() ?? image, objects: objects?.toArray?.().map((x) => x.toJSON()) ?? [] });
  }
}
