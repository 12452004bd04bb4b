// Small guards for parsing untrusted annotation JSON in plugins.

/** True for a plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for an integer > 0 (a valid width, height or id in most formats). */
export function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** `[x, y, width, height]` when `v` is an array of four finite numbers, else undefined. */
export function asBbox(v: unknown): readonly [number, number, number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 4) return undefined;
  if (!v.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  return [v[0] as number, v[1] as number, v[2] as number, v[3] as number];
}

/** The message of an error, or the value as a string: for a SampleError's reason. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
