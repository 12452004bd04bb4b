import {
  ConfigError,
  createNoiseSource,
  parsePromptSelection,
  type NoiseBudget,
  type NoiseSource,
  type PromptSelection,
  type ClasswisePattern,
} from '@unseg/core';

/** Parses a budget given as a fraction ("8/255"), a decimal in [0, 1], or a whole number of 8-bit steps ("8"). */
export function parseEps(text: string, flag: string): number {
  const t = text.trim();
  const fraction = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(t);
  let value: number;
  if (fraction) value = Number(fraction[1]) / Number(fraction[2]);
  else if (/^\d+(?:\.\d+)?$/.test(t)) {
    const n = Number(t);
    // "8" means 8/255; "0.03" means a fraction of the intensity range.
    value = n >= 1 ? n / 255 : n;
  } else throw new ConfigError(`${flag} ${JSON.stringify(text)}: expected a budget such as 8/255, 0.0314 or 8`);
  if (!(value >= 0 && value <= 1) || !Number.isFinite(value)) {
    throw new ConfigError(`${flag} ${JSON.stringify(text)}: the budget must lie between 0 and 1 (255/255)`);
  }
  return value;
}

export function parsePositiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag} ${JSON.stringify(text)}: expected a whole number >= 1`);
  return n;
}

export function parseNonNegativeInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${flag} ${JSON.stringify(text)}: expected a whole number >= 0`);
  return n;
}

export function formatEps(eps: number): string {
  const steps = eps * 255;
  return Math.abs(steps - Math.round(steps)) < 1e-9 ? `${Math.round(steps)}/255` : eps.toPrecision(4);
}

/** The options that program.ts's withNoiseOptions defines, as commander hands them over. */
export interface NoiseCommandOptions {
  noise: string;
  generator?: string;
  backend?: string;
  cellSize?: string;
  pattern?: ClasswisePattern;
  codes?: string;
  epsFg: string;
  epsBg: string;
  prompt: string;
}

/** The budget and prompt of `run` and `preview`, read the same way for both. */
export function parseNoiseSettings(o: NoiseCommandOptions): { budget: NoiseBudget; prompt: PromptSelection } {
  return {
    budget: { epsFg: parseEps(o.epsFg, '--eps-fg'), epsBg: parseEps(o.epsBg, '--eps-bg') },
    prompt: parsePromptSelection(o.prompt),
  };
}

/** The noise source of `run` and `preview`. */
export function createNoiseSourceFromOptions(o: NoiseCommandOptions, seed: number): Promise<NoiseSource> {
  return createNoiseSource(o.noise, {
    seed,
    generator: o.generator,
    backend: o.backend,
    cellSize: o.cellSize === undefined ? undefined : parsePositiveInt(o.cellSize, '--cell-size'),
    pattern: o.pattern,
    codesFile: o.codes,
  });
}
