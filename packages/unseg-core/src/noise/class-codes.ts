import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { NO_OBJECT } from './types.js';

/**
 * A learned class-wise code: one tile of noise directions per class, repeated over the image at
 * fixed positions, as the class-wise grating repeats its stripes, but with patterns an
 * optimiser chose (tools/bench-efficacy/torch/em_bound.py --classwise-tile writes them).
 *
 * The file (JSON, `format` "unseg-class-codes", `version` 1):
 * - `cellSize`: image pixels per tile cell at the image's own size;
 * - `codes`: the class codes, each `[channel][row][col]` (3 channels, every code the same rows
 *   and columns), directions in [-1, 1]; category id l gets code (l - 1) mod codes.length, as the
 *   grating's codes are assigned (category 0, which converters that number classes from 0 use,
 *   the last code: train-codes gives such a dataset one code more than its largest id);
 * - `background` (optional): the code of pixels with no object (NO_OBJECT), which the engine
 *   scales by eps_bg; without it they get no noise;
 * - anything else (`provenance`, notes) is kept out of the way.
 */
export interface ClassCodes {
  readonly cellSize: number;
  readonly rows: number;
  readonly cols: number;
  /** Per code: 3 * rows * cols directions, channel-major (c, row, col). */
  readonly codes: readonly Float32Array[];
  readonly background: Float32Array | undefined;
  /** sha256 of the file's bytes: a resumed run must use the same codes. */
  readonly digest: string;
  readonly file: string;
}

export const CLASS_CODES_FORMAT = 'unseg-class-codes';
export const CLASS_CODES_VERSION = 1;
/** Larger cells than any image make every class one flat colour; a tile side past this is not a code but a mistake. */
const MAX_CELL_SIZE = 65536;
const MAX_TILE_SIDE = 4096;

/** Reads and checks a class-codes file; every problem is a ConfigError naming the file. */
export async function loadClassCodes(file: string): Promise<ClassCodes> {
  if (file.trim() === '') throw new ConfigError('--codes is empty: give a class-codes file');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ConfigError(`class codes ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    // Editors on Windows start UTF-8 files with a byte-order mark, which JSON.parse refuses.
    json = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ConfigError(`class codes ${file}: not JSON (${(err as Error).message})`);
  }
  return parseClassCodes(json, file, createHash('sha256').update(bytes).digest('hex'));
}

export function parseClassCodes(json: unknown, file: string, digest: string): ClassCodes {
  const bad = (what: string): never => {
    throw new ConfigError(`class codes ${file}: ${what}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('not a JSON object');
  const o = json as Record<string, unknown>;
  const shown = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));
  if (o.format !== CLASS_CODES_FORMAT) bad(`"format" is ${shown(o.format)}, expected "${CLASS_CODES_FORMAT}"`);
  if (o.version !== CLASS_CODES_VERSION) bad(`"version" is ${shown(o.version)}, not one this version reads (${CLASS_CODES_VERSION})`);
  const cellSize = o.cellSize;
  if (typeof cellSize !== 'number' || !Number.isInteger(cellSize) || cellSize < 1 || cellSize > MAX_CELL_SIZE) {
    bad(`"cellSize" must be an integer from 1 to ${MAX_CELL_SIZE} (image pixels per cell), got ${shown(cellSize)}`);
  }
  if (!Array.isArray(o.codes) || o.codes.length === 0) bad('"codes" must be a non-empty array of codes');
  let shape: [number, number] | undefined;
  const flatten = (code: unknown, where: string): Float32Array => {
    if (!Array.isArray(code) || code.length !== 3) bad(`${where} must have 3 channels`);
    const channels = code as unknown[];
    const rows = Array.isArray(channels[0]) ? (channels[0] as unknown[]).length : 0;
    const cols = rows > 0 && Array.isArray((channels[0] as unknown[])[0]) ? ((channels[0] as unknown[])[0] as unknown[]).length : 0;
    if (rows < 1 || cols < 1) bad(`${where} must be [channel][row][col] with at least one row and column`);
    if (rows > MAX_TILE_SIDE || cols > MAX_TILE_SIDE) bad(`${where} is ${rows}x${cols} cells, more than ${MAX_TILE_SIDE} on a side`);
    shape ??= [rows, cols];
    if (rows !== shape[0] || cols !== shape[1]) bad(`${where} is ${rows}x${cols}, the first code ${shape[0]}x${shape[1]}`);
    const out = new Float32Array(3 * rows * cols);
    let i = 0;
    channels.forEach((channel, c) => {
      if (!Array.isArray(channel) || channel.length !== rows) bad(`${where}: every channel must have ${rows} rows`);
      (channel as unknown[]).forEach((row, r) => {
        if (!Array.isArray(row) || row.length !== cols) bad(`${where}: every row must have ${cols} values`);
        (row as unknown[]).forEach((v, x) => {
          if (typeof v !== 'number' || !(v >= -1 && v <= 1)) bad(`${where}, channel ${c}, row ${r}, column ${x}: directions must be numbers in [-1, 1], got ${shown(v)}`);
          out[i++] = v as number;
        });
      });
    });
    return out;
  };
  const n = (o.codes as unknown[]).length;
  const codes = (o.codes as unknown[]).map((c, k) => flatten(c, n === 1 ? 'code 0 (every category)' : `code ${k} (categories ${k + 1}, ${k + 1 + n}, ...)`));
  // null as well as a missing key: "no background code".
  const background = o.background === undefined || o.background === null ? undefined : flatten(o.background, '"background"');
  return { cellSize: cellSize as number, rows: shape![0], cols: shape![1], codes, background, digest, file };
}

/** The code of category `label` (NO_OBJECT: the background code, or undefined for none). */
export function classCodeOf(codes: ClassCodes, label: number): Float32Array | undefined {
  if (label === NO_OBJECT) return codes.background;
  const n = codes.codes.length;
  return codes.codes[(((label - 1) % n) + n) % n];
}
