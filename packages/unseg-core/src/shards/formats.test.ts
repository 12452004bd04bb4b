import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import sharp from 'sharp';
import { ShardWriter } from './writer.js';
import { feed, makeRecord, tempDir } from './test-helpers/records.js';

let db: DuckDBInstance;
let con: DuckDBConnection;
beforeAll(async () => {
  db = await DuckDBInstance.create(':memory:');
  con = await db.connect();
});
afterAll(() => {
  con.closeSync();
  db.closeSync();
});

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

describe('Parquet shards read back with DuckDB', () => {
  test('image bytes larger than a page go to the file by reference and come back byte-exact', async () => {
    // 200 KB of incompressible bytes per row, 5 rows in row groups of 2: the writer's
    // pass-through path (>= 64 KiB) interleaved with small buffered bytes (headers, levels).
    const { dir, cleanup } = await tempDir();
    try {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 10, rowGroupRows: 2 });
      const big: Uint8Array[] = [];
      for (let p = 0; p < 5; p++) {
        const rec = await makeRecord(p);
        const bytes = new Uint8Array(200_000 + p * 1000);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.imul(i + 1, 2654435761 + p) >>> 24) & 255;
        big.push(bytes);
        await w.write({ ...rec, image: { ...rec.image, bytes } });
      }
      await w.finish();
      const got = await rows(`select position::int as p, md5(image.bytes) as md5, octet_length(image.bytes)::int as n, len(objects)::int as k from '${dir}/train-00000.parquet' order by 1`);
      expect(got).toEqual(big.map((b, p) => ({ p, md5: md5(b), n: b.length, k: p % 3 })));
    } finally {
      await cleanup();
    }
  });

  test('schema, rows, image bytes, nested objects and huggingface metadata', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 10, rowGroupRows: 3 });
      // 7 rows in 3 row groups (3+3+1), position 4 failed.
      await feed(w, [0, 1, 2, 3, 4, 5, 6, 7], new Set([4]));
      const [stats] = await w.finish();
      const file = `${dir}/train-00000.parquet`;
      expect(stats?.file).toBe('train-00000.parquet');

      const schema = await rows(`select column_name, column_type from (describe select * from '${file}')`);
      expect(Object.fromEntries(schema.map((r) => [r.column_name, r.column_type]))).toEqual({
        position: 'BIGINT',
        id: 'VARCHAR',
        split: 'VARCHAR',
        width: 'INTEGER',
        height: 'INTEGER',
        image: 'STRUCT(bytes BLOB, path VARCHAR)',
        source_path: 'VARCHAR',
        objects:
          'STRUCT(id VARCHAR, category_id BIGINT, category VARCHAR, is_thing BOOLEAN, is_crowd BOOLEAN, bbox DOUBLE[], area DOUBLE, rle VARCHAR, annotation VARCHAR)[]',
        noise_max_abs_fg: 'DOUBLE',
        noise_max_abs_bg: 'DOUBLE',
        noise_mean_abs: 'DOUBLE',
        noise_psnr: 'DOUBLE',
        noise_prompt_fraction: 'DOUBLE',
      });

      const got = await rows(
        `select position::int as position, id, image.path as path, md5(image.bytes) as md5, len(objects)::int as n,
                to_json(objects)::varchar as objects, noise_psnr::varchar as psnr, noise_max_abs_bg as bg
         from '${file}' order by position`,
      );
      expect(got.map((r) => r.position)).toEqual([0, 1, 2, 3, 5, 6, 7]);
      for (const r of got) {
        const rec = await makeRecord(r.position as number);
        expect(r.id).toBe(rec.id);
        expect(r.path).toBe(rec.image.path);
        expect(r.md5).toBe(md5(rec.image.bytes));
        expect(r.n).toBe(rec.objects.length);
        expect(JSON.parse(r.objects as string)).toEqual(
          rec.objects.map((o) => ({
            id: o.id,
            category_id: o.categoryId,
            category: o.category,
            is_thing: o.isThing,
            is_crowd: o.isCrowd,
            bbox: [...o.bbox],
            area: o.area,
            rle: o.rle,
            annotation: o.annotation,
          })),
        );
        expect(r.bg).toBe(rec.noise.maxAbsBg);
      }
      // PSNR of an unchanged image is stored as +inf, not clipped.
      expect(got[0]!.psnr).toBe('inf');

      // The image bytes come back byte-exact and decode.
      const blob = await con.runAndReadAll(`select image.bytes as b from '${file}' where position = 5`);
      const bytes = (blob.getRows()[0]![0] as { bytes: Uint8Array }).bytes;
      expect((await sharp(bytes).metadata()).width).toBe(4);

      const kv = await rows(`select decode(key) as k, decode(value) as v from parquet_kv_metadata('${file}')`);
      const hf = kv.find((r) => r.k === 'huggingface');
      expect(hf).toBeDefined();
      const features = (JSON.parse(hf!.v as string) as { info: { features: Record<string, unknown> } }).info.features;
      expect(features.image).toEqual({ _type: 'Image' });
      expect(Object.keys(features)).toEqual(schema.map((r) => r.column_name));
      expect(Array.isArray(features.objects)).toBe(true);
      expect((features.objects as Record<string, unknown>[])[0]!.bbox).toEqual([{ dtype: 'float64', _type: 'Value' }]);

      // rowGroupRows: 3 gives groups of 3, 3 and 1 rows: rows are streamed, not held per shard.
      const groups = await rows(`select row_group_id::int as g, any_value(row_group_num_rows)::int as n from parquet_metadata('${file}') group by 1 order by 1`);
      expect(groups.map((g) => g.n)).toEqual([3, 3, 1]);

      // The stats agree with the file.
      expect(stats?.rows).toBe(7);
      expect(stats?.failures.map((f) => f.position)).toEqual([4]);
      const data = await readFile(file);
      expect(stats?.bytes).toBe(data.byteLength);
      expect(stats?.sha256).toBe(createHash('sha256').update(data).digest('hex'));
      expect(stats?.noise.maxAbsBg).toBe(2);
      expect(stats?.noise.minPsnr).toBe(41);
    } finally {
      await cleanup();
    }
  });

  test('a shard whose samples all failed is a valid empty file', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const w = await ShardWriter.open({ outDir: dir, split: 'val', shardSize: 4 });
      await feed(w, [0, 1], new Set([0, 1]), 'val');
      const [stats] = await w.finish();
      expect(stats?.rows).toBe(0);
      expect(stats?.failures).toHaveLength(2);
      const n = await rows(`select count(*)::int as n from '${dir}/val-00000.parquet'`);
      expect(n[0]!.n).toBe(0);
      const kv = await rows(`select decode(key) as k from parquet_kv_metadata('${dir}/val-00000.parquet')`);
      expect(kv.map((r) => r.k)).toContain('huggingface');
    } finally {
      await cleanup();
    }
  });
});

describe('Arrow IPC shards read back with apache-arrow', () => {
  for (const ipc of ['file', 'stream'] as const) {
    test(`${ipc} format: same schema, rows, nested objects and metadata`, async () => {
      const { dir, cleanup } = await tempDir();
      try {
        const w = await ShardWriter.open({ outDir: dir, split: 'train', shardSize: 100, format: 'arrow', arrowIpc: ipc, rowGroupRows: 2 });
        await feed(w, [0, 1, 2, 3, 4], new Set([1]));
        const [stats] = await w.finish();
        expect(stats?.file).toBe('train-00000.arrow');
        const bytes = await readFile(`${dir}/train-00000.arrow`);
        // The IPC file format starts with the "ARROW1" magic; the stream format does not.
        expect(bytes.subarray(0, 6).toString() === 'ARROW1').toBe(ipc === 'file');
        const table = tableFromIPC(bytes);
        expect(table.numRows).toBe(4);
        expect(table.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toContain('image:Struct<{bytes:Binary, path:Utf8}>');
        const hf = JSON.parse(table.schema.metadata.get('huggingface')!) as { info: { features: Record<string, unknown> } };
        expect(hf.info.features.image).toEqual({ _type: 'Image' });
        const positions = [...table.getChild('position')!].map(Number);
        expect(positions).toEqual([0, 2, 3, 4]);
        for (let i = 0; i < table.numRows; i++) {
          const rec = await makeRecord(positions[i]!);
          const row = table.get(i)!.toJSON() as Record<string, unknown>;
          const image = (row.image as { toJSON(): { bytes: Uint8Array; path: string } }).toJSON();
          expect(md5(image.bytes)).toBe(md5(rec.image.bytes));
          expect(image.path).toBe(rec.image.path);
          const objects = [...(row.objects as Iterable<{ toJSON(): Record<string, unknown> }>)].map((o) => o.toJSON());
          expect(objects.map((o) => [o.id, Number(o.category_id), o.category, o.is_crowd, [...(o.bbox as Iterable<number>)]])).toEqual(
            rec.objects.map((o) => [o.id, o.categoryId, o.category, o.isCrowd, [...o.bbox]]),
          );
        }
      } finally {
        await cleanup();
      }
    });
  }
});
