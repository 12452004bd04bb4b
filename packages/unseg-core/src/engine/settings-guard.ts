import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { stableJson } from '../json.js';
import { comparableNoiseSettings } from '../noise/comparable.js';
import { DEFAULT_JPEG_QUALITY } from '../image/codec.js';
import { manifestFileName, statsFileName } from '../shards/index.js';
import type { WorkerSpec } from '../shards/index.js';

/**
 * A rerun into the same folder resumes position by position, so it must publish exactly what
 * the first run did: with other noise, budgets, prompt, codec, shard size or input, the folder
 * would hold two protections under one manifest, and with another `--limit` a hole (the
 * limited run commits its last shard although the split goes on). Refuse instead, naming what
 * changed. The input folder is the exception where the shards can vouch for it: a dataset moved
 * to another mount or path is the same dataset, and each completed shard's input digest (paths
 * relative to the dataset root) is checked against it on resume anyway.
 */
export async function refuseChangedSettings(outDir: string, worker: WorkerSpec | undefined, run: { args: Record<string, unknown>; noise: Record<string, unknown> }): Promise<void> {
  let previous: { args?: Record<string, unknown>; noise?: Record<string, unknown> };
  try {
    const text = await fs.readFile(path.join(outDir, manifestFileName(worker)), 'utf8');
    // The manifest keeps the run's arguments under run.args and its noise block at the top.
    const manifest = JSON.parse(text) as { run?: { args?: Record<string, unknown> }; noise?: Record<string, unknown> };
    previous = { args: manifest.run?.args, noise: manifest.noise };
  } catch {
    return;
  }
  if (!previous.args) return;
  const inputMoved = previous.args.input !== run.args.input && (await shardsCarryInputDigests(outDir));
  // --seed only matters to a source that records it (the generator and learned codes do not: the
  // same noise whatever the seed); for the others it is part of what the noise is.
  const seedMatters = recordsSeed(previous.noise?.settings) || recordsSeed(run.noise.settings);
  const compared: [string, unknown, unknown][] = [
    ...(['plugin', ...(inputMoved ? [] : ['input' as const]), 'noise', ...(seedMatters ? ['seed' as const] : []), 'prompt', 'shardSize', 'format', 'limit'] as const).map(
      (k) => [`--${k === 'shardSize' ? 'shard-size' : k}`, previous.args?.[k] ?? null, run.args[k] ?? null] as [string, unknown, unknown],
    ),
    ['noise settings', comparableNoiseSettings(previous.noise?.settings ?? null), comparableNoiseSettings(sinceRecorded(previous.noise?.settings, run.noise.settings) ?? null)],
    ['--eps-fg', steps(previous.noise?.epsFgSteps), steps(run.noise.epsFgSteps)],
    ['--eps-bg', steps(previous.noise?.epsBgSteps), steps(run.noise.epsBgSteps)],
    ['--encode', publishedPixels(previous.noise?.encode), publishedPixels(run.noise.encode)],
  ];
  const changed = compared.filter(([, a, b]) => stableJson(a) !== stableJson(b));
  if (changed.length === 0) return;
  const what = changed.map(([name, a, b]) => `${name} was ${shortened(stableJson(a))}, now ${shortened(stableJson(b))}`).join('; ');
  throw new ConfigError(
    `${outDir} holds shards of a run with other settings (${what}); ` +
      'resuming would mix two protections in one dataset or leave gaps: use a new --out folder, or the same settings',
  );
}

/**
 * True when every completed shard in `outDir` records the digest of the samples it was made
 * from (folders written before digests existed do not), so that a resume can tell by content,
 * not by path, whether the dataset is the one they came from.
 */
async function shardsCarryInputDigests(outDir: string): Promise<boolean> {
  const names = await fs.readdir(outDir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.endsWith(statsFileName(''))) continue;
    try {
      const stats = JSON.parse(await fs.readFile(path.join(outDir, name), 'utf8')) as { inputDigest?: unknown };
      if (typeof stats.inputDigest !== 'string') return false;
    } catch {
      return false;
    }
  }
  return true;
}

const recordsSeed = (settings: unknown): boolean => typeof settings === 'object' && settings !== null && 'seed' in settings;

/** A generator's settings run to kilobytes (its training record); the start is enough to see what changed. */
const shortened = (text: string): string => (text.length > 240 ? `${text.slice(0, 240)}... (${text.length} characters)` : text);

const steps = (v: unknown): string | null => (typeof v === 'number' ? `${v}/255` : null);

/**
 * What of the codec setting decides the published pixels. PNG is lossless, so its zlib level
 * changes file sizes, never pixels: a resume may use another level (the default went from 6 to
 * 3). JPEG's quality changes the pixels, and PNG vs JPEG does too; an unnamed quality is the
 * default one.
 */
function publishedPixels(encode: unknown): unknown {
  if (encode === undefined || encode === null) return null;
  const e = encode as { format?: unknown; quality?: unknown };
  if (e.format === 'png') return { format: 'png' };
  // The CLI records the quality it used, a library caller may leave it to the default.
  if (e.format === 'jpeg') return { format: 'jpeg', quality: e.quality ?? DEFAULT_JPEG_QUALITY };
  return encode;
}

/**
 * The settings as an earlier version would have recorded them: a field added since (the
 * generator's `weightsSha256`) is compared only when the folder's manifest has it, so that
 * folders written before it resume as they did.
 */
function sinceRecorded(previous: unknown, now: unknown): unknown {
  if (!now || typeof now !== 'object' || Array.isArray(now) || !previous || typeof previous !== 'object') return now;
  if ('weightsSha256' in previous) return now;
  const { weightsSha256: _weights, ...rest } = now as Record<string, unknown>;
  return rest;
}

