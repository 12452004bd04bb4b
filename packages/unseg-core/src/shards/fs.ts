import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';

/** An open file being written; bytes are appended in order. */
export interface ShardFileHandle {
  write(bytes: Uint8Array): Promise<void>;
  /** Flushes the file's data to stable storage (fsync). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file system operations the shard writer needs, and nothing more. The default is
 * {@link nodeShardFs}; tests pass a wrapper that fails a chosen call (ENOSPC, EIO) to prove
 * that a failing shard never touches committed ones.
 */
export interface ShardFs {
  /** Creates (or truncates) a file for writing. `exclusive` fails with EEXIST if it exists. */
  open(path: string, options?: { exclusive?: boolean }): Promise<ShardFileHandle>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** Streams a file's bytes, so hashing a large shard needs no more memory than a chunk. */
  readChunks(path: string): AsyncIterable<Uint8Array>;
  /** File names in a folder; a missing folder gives an empty list. */
  list(dir: string): Promise<string[]>;
  /** Size in bytes, or undefined when the file does not exist. */
  size(path: string): Promise<number | undefined>;
  mkdir(dir: string): Promise<void>;
  /** fsyncs a folder so that a rename in it survives a power loss (best effort where unsupported). */
  syncDir(dir: string): Promise<void>;
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** {@link ShardFs} on Node's `fs`. */
export const nodeShardFs: ShardFs = {
  async open(path, options) {
    const h = await fsp.open(path, options?.exclusive ? 'wx' : 'w');
    return {
      async write(bytes) {
        let off = 0;
        // FileHandle.write may write fewer bytes than asked; loop until all are down.
        while (off < bytes.byteLength) {
          const { bytesWritten } = await h.write(bytes, off, bytes.byteLength - off);
          off += bytesWritten;
        }
      },
      sync: () => h.sync(),
      close: () => h.close(),
    };
  },
  rename: (from, to) => fsp.rename(from, to),
  async remove(path) {
    try {
      await fsp.unlink(path);
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
  },
  async readFile(path) {
    return new Uint8Array(await fsp.readFile(path));
  },
  readChunks(path) {
    return createReadStream(path) as AsyncIterable<Uint8Array>;
  },
  async list(dir) {
    try {
      return await fsp.readdir(dir);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return [];
      throw err;
    }
  },
  async size(path) {
    try {
      return (await fsp.stat(path)).size;
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  },
  async mkdir(dir) {
    await fsp.mkdir(dir, { recursive: true });
  },
  async syncDir(dir) {
    let h: fsp.FileHandle | undefined;
    try {
      h = await fsp.open(dir, 'r');
      await h.sync();
    } catch (err) {
      // Some file systems (and Windows) refuse fsync on a directory; the rename is still atomic.
      if (!isCode(err, 'EISDIR') && !isCode(err, 'EINVAL') && !isCode(err, 'EPERM') && !isCode(err, 'EBADF')) throw err;
    } finally {
      await h?.close();
    }
  },
};

/** Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename, fsync folder. */
export async function writeFileAtomic(fs: ShardFs, dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${dir}/${tempName(name)}`;
  try {
    const h = await fs.open(tmp);
    try {
      await h.write(bytes);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.rename(tmp, `${dir}/${name}`);
  } catch (err) {
    await fs.remove(tmp).catch(() => undefined);
    throw err;
  }
  await fs.syncDir(dir);
}

/**
 * The temp name of a file being written. It starts with a dot and ends in `.tmp`, so globs
 * such as `*.parquet` (DuckDB, `datasets` data_files) never pick up a half-written file.
 */
export function tempName(name: string): string {
  return `.${name}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/** Whether `file` is a temp file made by {@link tempName} for `name`. */
export function isTempOf(file: string, name: string): boolean {
  return file.startsWith(`.${name}.`) && file.endsWith('.tmp');
}
