import { NO_OBJECT, type NoiseRequest, type NoiseSource } from './types.js';
import { directionPool } from '../pixels/pool.js';
import { hashInts } from './seeded.js';
import { classCodeOf, type ClassCodes } from './class-codes.js';

export interface ClasswiseNoiseOptions {
  /** Global seed; each class's pattern is derived from (seed, class id). */
  readonly seed?: number;
  /**
   * The pattern's cell size in image pixels: one random sign per cell and channel, or the stripe
   * width of a grating. Defaults: 32 for cells, which keeps them 4 px wide after the ~8x
   * downscale of a 1024-px image to a 128-px training size (the issue's 6-px cells were averaged
   * away by a 4x downscale, and a baseline that a resize erases would be a strawman); 16 for
   * gratings, the width that protected most without a defense and after grey or blur
   * (README, "Choosing the noise"; five-orientation codes, LR-ASPP, one seed: 8 px
   * kept 0.28 of clean against 0.23, and 32 px 0.36, though 32 px held better after JPEG 75, 0.41
   * against 0.52).
   */
  readonly cellSize?: number;
  /**
   * 'cells' (default): random signs per cell, as in the unlearnable-examples papers. 'grating':
   * a square-wave stripe pattern per class (stripes `cellSize` px wide) with its own orientation
   * and colour. A random cell pattern has the same local statistics for every class once a
   * trainer crops and rescales it, so a net cannot tell two classes apart from a patch of it;
   * orientation and colour survive crops, flips (mostly) and rescaling, so a grating is a
   * shortcut a net can read locally. 'codes': learned class codes read from a file (`codes`),
   * each class's tile repeated over its pixels, cells `cellSize` px (default: the file's).
   */
  readonly pattern?: ClasswisePattern;
  /** For pattern 'codes': the codes ({@link loadClassCodes}). */
  readonly codes?: ClassCodes;
}

export type ClasswisePattern = 'cells' | 'grating' | 'codes';
export const CLASSWISE_PATTERNS: readonly ClasswisePattern[] = ['cells', 'grating', 'codes'];
const DEFAULT_CELL_SIZE: Readonly<Record<Exclude<ClasswisePattern, 'codes'>, number>> = { cells: 32, grating: 16 };

/**
 * The class-wise shortcut baseline (as in "unlearnable examples"): one fixed pattern per class
 * (random +-1 cells, a grating, or a learned code read from a file), anchored to the image grid
 * and identical in every image, written inside that class's pixels. Pixels with no object
 * (NO_OBJECT) get zero noise, unless a learned code has a background code. Cells and gratings are pure
 * functions of (seed, class, position, channel), so no table is stored and any image size works.
 */
export function createClasswiseNoiseSource(options: ClasswiseNoiseOptions = {}): NoiseSource {
  const seed = options.seed ?? 0;
  const pattern = options.pattern ?? 'cells';
  if (!CLASSWISE_PATTERNS.includes(pattern)) {
    throw new RangeError(`pattern must be one of ${CLASSWISE_PATTERNS.join(', ')}, got ${String(pattern)}`);
  }
  const codes = options.codes;
  if ((pattern === 'codes') !== (codes !== undefined)) {
    throw new RangeError(pattern === 'codes' ? "pattern 'codes' needs the codes (a class-codes file)" : `codes are only read by pattern 'codes', not '${pattern}'`);
  }
  const cellSize = options.cellSize ?? (codes ? codes.cellSize : DEFAULT_CELL_SIZE[pattern as Exclude<ClasswisePattern, 'codes'>]);
  if (!Number.isInteger(cellSize) || cellSize < 1) {
    throw new RangeError(`cellSize must be a positive integer, got ${cellSize}`);
  }
  const patternOf = codes ? codesPatternOf(codes) : pattern === 'grating' ? gratingPatternOf : cellPatternOf;
  const background = codes?.background ? codePattern(codes.background, codes, cellSize) : undefined;
  const pool = directionPool();
  const what = codes
    ? `learned code (${codes.codes.length} codes from ${codes.file}, ${cellSize}px cells${cellSize === codes.cellSize ? '' : ` (the file's: ${codes.cellSize}px)`}${codes.background ? ', one on the background too' : ''})`
    : pattern === 'grating'
      ? `stripes ${cellSize}px wide, an orientation and colour`
      : `random +-1 pattern (${cellSize}px cells)`;
  return {
    name: 'classwise',
    // A learned code's assignment is the file's: no seed enters it, so none is named.
    description: `fixed ${what} per class inside each class's pixels${codes ? '' : `, seed ${seed}`}`,
    batchSize: 8,
    needsLabels: true,
    // `overlap` and `orientations` tell a copy keyed by the smaller of two overlapping objects, with
    // five-orientation grating codes, from one made before 2026-11-27 (labels in annotation order,
    // three orientations), so that a resumed run never mixes the two in one dataset.
    // A learned code's settings name its file's digest: a resumed run never mixes two codes.
    // `categoryZero` likewise tells a copy whose category-0 objects got their code from one made
    // until the night of 2026-11-28, when category 0 was taken for "no object" and got none.
    settings: {
      ...(pattern === 'cells'
        ? { seed, cellSize }
        : codes
          ? { cellSize, pattern, codes: codes.digest }
          : { seed, cellSize, pattern, orientations: CLASS_GRATING_DIRECTIONS.length }),
      overlap: 'smaller',
      categoryZero: 'coded',
    },
    async generate(batch: readonly NoiseRequest[]): Promise<Float32Array[]> {
      return batch.map((r) => classwisePattern(r, seed, cellSize, patternOf, background, pool.take(r.image.width * r.image.height * 3)));
    },
    release(directions) {
      pool.give(directions);
    },
  };
}

/**
 * The pattern of one class over a run of its pixels along row y, x in [x0, x1): writes their
 * directions, channels R, G, B, to out from index `at` on.
 */
type ClassPattern = (y: number, x0: number, x1: number, out: Float32Array, at: number) => void;
type ClassPatternOf = (seed: number, label: number, cellSize: number) => ClassPattern;

const cellPatternOf: ClassPatternOf = (seed, label, cellSize) => (y, x0, x1, out, at) => {
  const cy = Math.floor(y / cellSize);
  for (let x = x0; x < x1; x++, at += 3) {
    const cx = Math.floor(x / cellSize);
    for (let c = 0; c < 3; c++) out[at + c] = classwiseSign(seed, label, cx, cy, c);
  }
};

/**
 * The class-wise grating's orientations: 0, 90, 45, 30 and 60 degrees. A horizontal flip turns
 * 45, 30 and 60 into 135, 150 and 120, which no class uses, so a flip never turns one class's
 * grating into another's. Five rather than the three of before 2026-11-27 because a trainer that
 * converts the copy to grey keeps only the orientation (tools/bench-efficacy/torch/README.md,
 * "Five orientations, and labels painted as a trainer paints them").
 */
const CLASS_GRATING_DIRECTIONS: readonly (readonly [number, number])[] = [0, 90, 45, 30, 60].map((deg) => {
  const a = (deg * Math.PI) / 180;
  return [Math.cos(a), Math.sin(a)] as const;
});
/** Colour axes that differ beyond a sign (a grating times -1 is the same grating shifted by half a period). */
const GRATING_COLOURS: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [1, -1, -1],
  [1, 1, -1],
  [1, -1, 1],
];
export const GRATING_CODES = CLASS_GRATING_DIRECTIONS.length * GRATING_COLOURS.length;

/**
 * The (orientation, colour) code of a class: code k = (label - 1 + seed) mod 20 has orientation
 * k mod 5 and colour k mod 4 (5 and 4 being coprime, the first twenty labels get twenty different
 * codes), so any five consecutive labels differ in orientation, which a grey conversion keeps,
 * and any four in colour, which survives rescaling best. Label l and l + 20 share a code (a
 * dataset with more classes than codes has classes that this baseline cannot tell apart).
 */
export function gratingCode(seed: number, label: number): { direction: readonly [number, number]; colour: readonly [number, number, number] } {
  const k = (((label - 1 + seed) % GRATING_CODES) + GRATING_CODES) % GRATING_CODES;
  return { direction: CLASS_GRATING_DIRECTIONS[k % CLASS_GRATING_DIRECTIONS.length]!, colour: GRATING_COLOURS[k % GRATING_COLOURS.length]! };
}

/**
 * Class `label`'s grating: square-wave stripes `cellSize` px wide, anchored to the image grid, in
 * the orientation and colour of its {@link gratingCode}.
 */
const gratingPatternOf: ClassPatternOf = (seed, label, cellSize) => {
  const { direction, colour } = gratingCode(seed, label);
  const [dx, dy] = direction;
  const [r, g, b] = colour;
  return (y, x0, x1, out, at) => {
    for (let x = x0; x < x1; x++, at += 3) {
      const s = stripeParity(x, y, dx, dy, cellSize) ? -1 : 1;
      out[at] = s * r;
      out[at + 1] = s * g;
      out[at + 2] = s * b;
    }
  };
};

/** Which stripe (0 or 1 of each pair) pixel (x, y) lies in: stripes `width` px wide across (dx, dy), anchored to the image grid. */
function stripeParity(x: number, y: number, dx: number, dy: number, width: number): number {
  return Math.floor(((x + 0.5) * dx + (y + 0.5) * dy) / width) & 1;
}

/** The sign of square-wave stripes `width` px wide across `direction` at pixel (x, y). */
export function stripeSign(direction: readonly [number, number], width: number): (x: number, y: number) => 1 | -1 {
  const [dx, dy] = direction;
  return (x, y) => (stripeParity(x, y, dx, dy, width) ? -1 : 1);
}

/** A learned code's assignment is the file's (code (l - 1) mod n for category l); the seed does not move it. */
const codesPatternOf =
  (codes: ClassCodes): ClassPatternOf =>
  (_seed, label, cellSize) =>
    codePattern(classCodeOf(codes, label)!, codes, cellSize);

/** One code's tile, cells `cellSize` px, repeated from the image's top-left corner. */
function codePattern(code: Float32Array, { rows, cols }: ClassCodes, cellSize: number): ClassPattern {
  const plane = rows * cols;
  return (y, x0, x1, out, at) => {
    const row = (Math.floor(y / cellSize) % rows) * cols;
    for (let x = x0; x < x1; x++, at += 3) {
      const i = row + (Math.floor(x / cellSize) % cols);
      out[at] = code[i]!;
      out[at + 1] = code[plane + i]!;
      out[at + 2] = code[2 * plane + i]!;
    }
  };
}

/** The sign of class `label`'s pattern at cell (cx, cy), channel c. */
export function classwiseSign(seed: number, label: number, cx: number, cy: number, c: number): 1 | -1 {
  return hashInts(seed, label, cx, cy, c) & 1 ? 1 : -1;
}

/** Writes image r's directions into `out` (every value: a pooled array holds the last image's). */
function classwisePattern(r: NoiseRequest, seed: number, cellSize: number, patternOf: ClassPatternOf, background: ClassPattern | undefined, out: Float32Array): Float32Array {
  const { width, height } = r.image;
  const labels = r.labels;
  if (!labels) throw new Error(`classwise noise needs per-pixel labels (sample ${r.id})`);
  if (labels.length !== width * height) {
    throw new RangeError(`labels have ${labels.length} values, expected ${width * height} (sample ${r.id})`);
  }
  const patterns = new Map<number, ClassPattern>();
  for (let y = 0; y < height; y++) {
    // One call per run of a label along the row, not one per pixel.
    for (let x0 = 0; x0 < width; ) {
      const label = labels[y * width + x0]!;
      let x1 = x0 + 1;
      while (x1 < width && labels[y * width + x1] === label) x1++;
      const at = (y * width + x0) * 3;
      if (label === NO_OBJECT) {
        if (background) background(y, x0, x1, out, at);
        else out.fill(0, at, (y * width + x1) * 3);
      } else {
        let pattern = patterns.get(label);
        if (!pattern) patterns.set(label, (pattern = patternOf(seed, label, cellSize)));
        pattern(y, x0, x1, out, at);
      }
      x0 = x1;
    }
  }
  return out;
}
