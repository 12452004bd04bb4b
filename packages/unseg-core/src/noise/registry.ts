import { ConfigError } from '../errors.js';
import { createNoNoiseSource, createUniformNoiseSource } from './baseline.js';
import { createClasswiseNoiseSource, type ClasswisePattern } from './classwise.js';
import { loadClassCodes } from './class-codes.js';
import { createGratingNoiseSource } from './grating.js';
import { createSignNoiseSource } from './sign.js';
import type { NoiseSource } from './types.js';
import type { BackendName } from '../generator/backend.js';

export interface NoiseSourceOptions {
  readonly seed?: number;
  /** For `unseg`: a generator folder (model.json + weights); default: the shipped generator. */
  readonly generator?: string;
  /** For `unseg`: which tfjs backend to use. */
  readonly backend?: string;
  /**
   * For `classwise`: the pattern's cell size in pixels (one at least the image's size gives each
   * class one flat colour offset); for `grating`: the stripe width.
   */
  readonly cellSize?: number;
  /** For `classwise`: `cells` (random signs, default), `grating` (stripes of a per-class orientation and colour) or `codes` (learned, from `codes`). */
  readonly pattern?: ClasswisePattern;
  /** For `classwise` with pattern `codes`: a class-codes file (see loadClassCodes). */
  readonly codesFile?: string;
}

type Factory = (options: NoiseSourceOptions) => Promise<NoiseSource>;

const factories: Readonly<Record<string, { readonly describe: string; readonly create: Factory }>> = {
  none: { describe: 'no noise: the clean reference copy', create: async () => createNoNoiseSource() },
  uniform: {
    describe: 'i.i.d. uniform noise in [-eps, eps] (baseline; should not hurt training)',
    create: async (o) => createUniformNoiseSource({ seed: o.seed }),
  },
  sign: {
    describe: 'random +-eps sign texture at a working resolution, upsampled (zero-training baseline)',
    create: async (o) => createSignNoiseSource({ seed: o.seed }),
  },
  unseg: {
    describe: 'the trained UnSeg generator (default: the bundled one; --generator <dir> for another)',
    create: async (o) => {
      // Loaded on demand so the baselines never start TensorFlow.js.
      const { createGeneratorNoiseSource } = await import('../generator/source.js');
      return createGeneratorNoiseSource({ modelDir: o.generator, backend: o.backend as BackendName | undefined });
    },
  },
  grating: {
    describe: 'one fixed stripe pattern on every prompt pixel, no labels needed (zero-training baseline)',
    create: async (o) => createGratingNoiseSource({ seed: o.seed, stripeWidth: o.cellSize }),
  },
  classwise: {
    describe: 'a fixed pattern per class inside its mask: random cells (the textbook shortcut baseline), a grating, or learned codes from a file (needs class labels)',
    create: async (o) => {
      if ((o.pattern === 'codes') !== (o.codesFile !== undefined)) {
        throw new ConfigError(o.pattern === 'codes' ? 'pattern codes needs a class-codes file (--codes <file>)' : 'a class-codes file is only read with pattern codes (--pattern codes)');
      }
      const codes = o.codesFile === undefined ? undefined : await loadClassCodes(o.codesFile);
      return createClasswiseNoiseSource({ seed: o.seed, cellSize: o.cellSize, pattern: o.pattern, codes });
    },
  },
};

export function noiseSourceNames(): { name: string; describe: string }[] {
  return Object.entries(factories).map(([name, f]) => ({ name, describe: f.describe }));
}

/** Creates a noise source by the name used with `--noise`. */
export async function createNoiseSource(name: string, options: NoiseSourceOptions = {}): Promise<NoiseSource> {
  const factory = factories[name];
  if (!factory) {
    throw new ConfigError(`unknown noise source "${name}"; choose one of: ${Object.keys(factories).join(', ')}`);
  }
  // An option the chosen source ignores is almost always a mistyped command line.
  for (const [option, { sources, what }] of Object.entries(SOURCE_OPTIONS)) {
    if (options[option as keyof typeof SOURCE_OPTIONS] !== undefined && !sources.includes(name)) {
      throw new ConfigError(`${what} only applies to the ${sources.join(' and ')} noise source${sources.length > 1 ? 's' : ''}, not to "${name}"`);
    }
  }
  return factory.create(options);
}

/** The options that belong to some sources only, and how an error names them. */
const SOURCE_OPTIONS: Readonly<Record<'cellSize' | 'pattern' | 'codesFile' | 'generator', { readonly sources: readonly string[]; readonly what: string }>> = {
  cellSize: { sources: ['classwise', 'grating'], what: 'a cell size' },
  pattern: { sources: ['classwise'], what: 'a pattern' },
  codesFile: { sources: ['classwise'], what: 'a class-codes file' },
  generator: { sources: ['unseg'], what: 'a generator folder' },
};
