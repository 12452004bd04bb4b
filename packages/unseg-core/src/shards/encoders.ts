import {
  Binary,
  Bool,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  RecordBatchFileWriter,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Table,
  Utf8,
  vectorFromArray,
  type DataType,
} from 'apache-arrow';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { SHARD_COLUMNS, type ShardColumn, type ShardColumnType, type ShardRow } from './schema.js';

/** Output format of a shard file. */
export type ShardFormat = 'parquet' | 'arrow';

/** Where an encoder's bytes go, in order. A rejected promise aborts the shard. */
export type ByteSink = (bytes: Uint8Array) => Promise<void>;

/**
 * Turns batches of rows into the bytes of one shard file. `writeRows` is called once per row
 * group (Parquet) or record batch (Arrow) so memory stays bounded by one group.
 */
export interface ShardEncoder {
  writeRows(rows: readonly ShardRow[]): Promise<void>;
  /** Writes the footer. Must be called once, after the last `writeRows`. */
  finish(): Promise<void>;
}

/** Options common to both encoders. */
export interface EncoderOptions {
  /** Key-value metadata for the file (Parquet) or schema (Arrow); must include `huggingface`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Arrow only: `file` (IPC file format, random access, default) or `stream` (IPC stream). */
  readonly arrowIpc?: 'file' | 'stream';
}

// ---------------------------------------------------------------------------------------
// Parquet (hyparquet-writer)

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];

function parquetElements(name: string, type: ShardColumnType): SchemaElement[] {
  const required = 'REQUIRED' as const;
  if (typeof type === 'string') {
    switch (type) {
      case 'int64':
        return [{ name, type: 'INT64', repetition_type: required }];
      case 'int32':
        return [{ name, type: 'INT32', repetition_type: required }];
      case 'float64':
        return [{ name, type: 'DOUBLE', repetition_type: required }];
      case 'bool':
        return [{ name, type: 'BOOLEAN', repetition_type: required }];
      case 'string':
        return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: required }];
      case 'binary':
        return [{ name, type: 'BYTE_ARRAY', repetition_type: required }];
    }
  }
  if ('list' in type) {
    // The standard three-level LIST layout, which every reader (pyarrow, DuckDB, Spark) maps
    // to a list type rather than a repeated group.
    return [
      { name, repetition_type: required, converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      ...parquetElements('element', type.list),
    ];
  }
  return [
    { name, repetition_type: required, num_children: type.struct.length },
    ...type.struct.flatMap((f: ShardColumn) => parquetElements(f.name, f.type)),
  ];
}

/** The Parquet schema of a shard (root element first), derived from {@link SHARD_COLUMNS}. */
export function parquetSchema(): SchemaElement[] {
  return [{ name: 'root', num_children: SHARD_COLUMNS.length }, ...SHARD_COLUMNS.flatMap((c) => parquetElements(c.name, c.type))];
}

/** Appends at least this long go to the sink as they are, without a copy into the buffer. */
const PASS_THROUGH_BYTES = 64 * 1024;

/**
 * A ByteWriter that hands its bytes to the sink at each row group boundary, so a shard of
 * hundreds of megabytes never sits in memory whole. Large appends (a page of image bytes) are
 * kept by reference instead of being copied into an ever-doubling buffer: the plain ByteWriter
 * copied each row group's image bytes four to six times, most of the shard stage's cost.
 */
class SinkByteWriter extends ByteWriter {
  private chunks: Uint8Array[] = [];
  constructor(private readonly sink: ByteSink) {
    super(1 << 20);
  }
  override appendBytes(value: Uint8Array): void {
    if (value.length < PASS_THROUGH_BYTES) {
      super.appendBytes(value);
      return;
    }
    // Safe to keep: hyparquet-writer passes the bytes of a finished page (or levels) buffer,
    // which it never touches again.
    this.spill();
    this.chunks.push(value);
    this.offset += value.length;
  }
  /** Moves the small buffered bytes into the chunk list (copied: the buffer is reused). */
  private spill(): void {
    if (this.index === 0) return;
    this.chunks.push(new Uint8Array(this.buffer, 0, this.index).slice());
    this.index = 0;
  }
  async flush(): Promise<void> {
    this.spill();
    const chunks = this.chunks;
    this.chunks = [];
    for (const chunk of chunks) await this.sink(chunk);
  }
  override finish(): Promise<void> {
    return this.flush();
  }
}

class ParquetShardEncoder implements ShardEncoder {
  private readonly pw: ParquetWriter;
  private readonly writer: SinkByteWriter;
  constructor(sink: ByteSink, options: EncoderOptions) {
    this.writer = new SinkByteWriter(sink);
    this.pw = new ParquetWriter({
      writer: this.writer,
      schema: parquetSchema(),
      codec: 'SNAPPY',
      kvMetadata: Object.entries(options.metadata).map(([key, value]) => ({ key, value })),
      createdBy: 'unseg (hyparquet-writer)',
    });
  }
  async writeRows(rows: readonly ShardRow[]): Promise<void> {
    if (rows.length === 0) return;
    const columnData = SHARD_COLUMNS.map((c) => {
      const data = rows.map((r) => r[c.name as keyof ShardRow]);
      if (c.name === 'image') {
        // PNG/JPEG bytes are already compressed: Snappy would spend CPU for nothing, and
        // dictionary sampling and min/max statistics of image bytes are useless.
        return { name: c.name, data, codec: 'UNCOMPRESSED' as const, encoding: 'PLAIN' as const, statistics: false };
      }
      return { name: c.name, data };
    });
    // One call = one row group; the await is the writer's flush into the sink.
    await this.pw.write({ columnData, rowGroupSize: rows.length });
  }
  async finish(): Promise<void> {
    await this.pw.finish();
  }
}

// ---------------------------------------------------------------------------------------
// Arrow IPC (apache-arrow)

function arrowType(type: ShardColumnType): DataType {
  if (typeof type === 'string') {
    switch (type) {
      case 'int64':
        return new Int64();
      case 'int32':
        return new Int32();
      case 'float64':
        return new Float64();
      case 'bool':
        return new Bool();
      case 'string':
        return new Utf8();
      case 'binary':
        return new Binary();
    }
  }
  // Field names "item" for lists: what pyarrow itself produces, so `datasets` sees its own types.
  if ('list' in type) return new List(new Field('item', arrowType(type.list), false));
  return new Struct(type.struct.map((f) => new Field(f.name, arrowType(f.type), false)));
}

/** The Arrow schema of a shard, carrying the given metadata (e.g. `huggingface`). */
export function arrowSchema(metadata: Readonly<Record<string, string>>): Schema {
  return new Schema(
    SHARD_COLUMNS.map((c) => new Field(c.name, arrowType(c.type), false)),
    new Map(Object.entries(metadata)),
  );
}

class ArrowShardEncoder implements ShardEncoder {
  private readonly schema: Schema;
  private readonly writer: RecordBatchFileWriter | RecordBatchStreamWriter;
  private readonly pump: Promise<void>;
  private failed: unknown;
  constructor(sink: ByteSink, options: EncoderOptions) {
    this.schema = arrowSchema(options.metadata);
    const writer = options.arrowIpc === 'stream' ? new RecordBatchStreamWriter() : new RecordBatchFileWriter();
    this.writer = writer;
    // Write the schema up front, so an empty shard (every sample failed) is still a valid file
    // with the schema and its metadata; batches with this same schema do not restart it.
    writer.reset(undefined, this.schema);
    // The writer is an async byte queue: drain it into the sink as it fills.
    this.pump = (async () => {
      for await (const chunk of writer) await sink(chunk);
    })().catch((err: unknown) => {
      this.failed = err;
    });
  }
  private check(): void {
    if (this.failed !== undefined) throw this.failed;
  }
  async writeRows(rows: readonly ShardRow[]): Promise<void> {
    this.check();
    if (rows.length === 0) return;
    const columns = Object.fromEntries(
      this.schema.fields.map((f) => [f.name, vectorFromArray(rows.map((r) => r[f.name as keyof ShardRow]) as unknown[], f.type)]),
    );
    const table = new Table(this.schema, columns);
    for (const batch of table.batches) this.writer.write(batch);
    // Let the pump drain what was just queued before more rows are built.
    await new Promise((resolve) => setImmediate(resolve));
    this.check();
  }
  async finish(): Promise<void> {
    this.check();
    this.writer.close();
    await this.pump;
    this.check();
  }
}

/** Makes the encoder for a format, writing into `sink`. */
export function createShardEncoder(format: ShardFormat, sink: ByteSink, options: EncoderOptions): ShardEncoder {
  return format === 'parquet' ? new ParquetShardEncoder(sink, options) : new ArrowShardEncoder(sink, options);
}
