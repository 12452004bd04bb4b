import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';

/**
 * A learned class-wise code: one tile of noise directions per class, repeated over the image at
 * fixed positions, as the class-wise grating repeats its stripes, but with patterns an
 * optimiser chose (tools/bench-efficacy/torch/em_bound.py --classwise-tile writes them).
 *
 * The file (JSON, `format` "unseg-class-codes", `version` 1):
 * - `cellSize`: image pixels per tile cell at the image's own size;
 * - `codes`: the class codes, each `[channel][row][col]` (3 channels, every code the same rows
 *   and columns), directions in [-1, 1]; category id l (l >= 1) gets code (l - 1) mod codes.length,
 *   as the grating's codes are assigned;
 * - `background` (optional): the code of pixels with no category (label 0), which the engine
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

/** Reads and checks a class-codes file; every problem is a ConfigError naming the file. */
export async function loadClassCodes(file: string): Promise<ClassCodes> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ConfigError(`class codes ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
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
  if (o.format !== CLASS_CODES_FORMAT) bad(`"format" is ${JSON.stringify(o.format)}, expected "${CLASS_CODES_FORMAT}"`);
  if (o.version !== CLASS_CODES_VERSION) bad(`"version" ${JSON.stringify(o.version)} is not one this version reads (${CLASS_CODES_VERSION})`);
  const cellSize = o.cellSize;
  if (typeof cellSize !== 'number' || !Number.isInteger(cellSize) || cellSize < 1) bad(`"cellSize" must be a positive integer, got ${JSON.stringify(cellSize)}`);
  if (!Array.isArray(o.codes) || o.codes.length === 0) bad('"codes" must be a non-empty array of codes');
  let shape: [number, number] | undefined;
  const flatten = (code: unknown, where: string): Float32Array => {
    if (!Array.isArray(code) || code.length !== 3) bad(`${where} must have 3 channels`);
    const channels = code as unknown[];
    const rows = Array.isArray(channels[0]) ? (channels[0] as unknown[]).length : 0;
    const cols = rows > 0 && Array.isArray((channels[0] as unknown[])[0]) ? ((channels[0] as unknown[])[0] as unknown[]).length : 0;
    if (rows < 1 || cols < 1) bad(`${where} must be [channel][row][col] with at least one row and column`);
    shape ??= [rows, cols];
    if (rows !== shape[0] || cols !== shape[1]) bad(`${where} is ${rows}x${cols}, the first code ${shape[0]}x${shape[1]}`);
    const out = new Float32Array(3 * rows * cols);
    let i = 0;
    for (const channel of channels) {
      if (!Array.isArray(channel) || channel.length !== rows) bad(`${where}: every channel must have ${rows} rows`);
      for (const row of channel as unknown[]) {
        if (!Array.isArray(row) || row.length !== cols) bad(`${where}: every row must have ${cols} values`);
        for (const v of row as unknown[]) {
          if (typeof v !== 'number' || !(v >= -1 && v <= 1)) bad(`${where}: directions must be numbers in [-1, 1], got ${JSON.stringify(v)}`);
          out[i++] = v as number;
        }
      }
    }
    return out;
  };
  const codes = (o.codes as unknown[]).map((c, k) => flatten(c, `code ${k}`));
  const background = o.background === undefined ? undefined : flatten(o.background, '"background"');
  return { cellSize: cellSize as number, rows: shape![0], cols: shape![1], codes, background, digest, file };
}

/** The code of category `label` (0: the background code, or undefined for none). */
export function classCodeOf(codes: ClassCodes, label: number): Float32Array | undefined {
  if (label === 0) return codes.background;
  const n = codes.codes.length;
  return codes.codes[(((label - 1) % n) + n) % n];
}
