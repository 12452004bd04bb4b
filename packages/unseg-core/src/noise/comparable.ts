import { isRecord } from '../plugin/validate.js';

/**
 * A noise source's recorded settings as two runs must agree on them to publish the same noise.
 * The tfjs backend changes float rounding, not the protection; a generator recorded with the
 * sha256 of its weights is that generator wherever it is installed (another checkout, a
 * container's WORKDIR, an npx cache), so its folder path is not compared either.
 */
export function comparableNoiseSettings(settings: unknown): unknown {
  if (!isRecord(settings)) return settings;
  const { backend: _backend, ...rest } = settings;
  if (typeof rest.weightsSha256 !== 'string') return rest;
  const { modelDir: _modelDir, ...identified } = rest;
  return identified;
}
