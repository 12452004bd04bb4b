import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ConfigError, SampleError } from '../errors.js';
import { rleArea } from '../masks/index.js';
import { assertPluginContract, compareStrings, isInsideRoot } from '../plugin/index.js';
import type { Category, DatasetPlugin, OpenOptions } from '../plugin/index.js';
import { snapshotKey, snapshotReader, type ReaderSnapshot } from './snapshot.js';

/** The checks {@link checkPlugin} runs; each finding names one. */
export const PLUGIN_CHECKS = [
  'contract',
  'detect',
  'open',
  'splits',
  'determinism',
  'unique-ids',
  'samples',
  'masks',
  'categories',
  'images',
  'errors',
  'bad-input',
  'path-safety',
] as const;
export type PluginCheck = (typeof PLUGIN_CHECKS)[number];

/** One way the plugin breaks the contract or the fixture's expectations. */
export interface PluginFinding {
  readonly check: PluginCheck;
  readonly message: string;
  readonly split?: string;
  readonly sampleId?: string;
  /** The fixture file involved, relative to the root, for the mutation checks. */
  readonly file?: string;
}

/** What the fixture is known to hold. Everything is optional; what is given is checked exactly. */
export interface PluginExpectations {
  /** The splits, in the order `splits()` must return them. */
  readonly splits?: readonly string[];
  /** Fewest samples (not errors) per split: a number for every split, or per split name. Default 1. */
  readonly minSamples?: number | Readonly<Record<string, number>>;
  /** The exact sample ids of a split, in order. */
  readonly sampleIds?: Readonly<Record<string, readonly string[]>>;
  /** SampleErrors tolerated on the clean fixture (yielded or from mask()). Default 0. */
  readonly maxErrors?: number;
  /** Objects whose mask has no pixel are reported (default true). */
  readonly nonEmptyMasks?: boolean;
}

export interface CheckPluginOptions {
  /** The fixture folder, as a user would pass it to `--in`. It is only read; mutations work on a copy. */
  readonly root: string;
  readonly expect?: PluginExpectations;
  /** Passed to every open(); `followSymlinks` is overridden by the path-safety check. */
  readonly openOptions?: OpenOptions;
  /**
   * Delete, corrupt and symlink out of the root each fixture file the reader depends on, one at a
   * time, and check the reader's answer (default true). Set false for a large fixture.
   */
  readonly mutations?: boolean;
  /** At most this many files are mutated, in sorted order (default 40). */
  readonly maxMutatedFiles?: number;
  /** Compare each file image's header size with the sample's size (default true). */
  readonly checkImages?: boolean;
  /** Where origin-of-plugin messages say it came from (default: its name). */
  readonly origin?: string;
}

/** Renders findings one per line, for a test failure or a console. */
export function formatFindings(findings: readonly PluginFinding[]): string {
  return findings
    .map((f) => {
      const where = [f.split && `split ${f.split}`, f.sampleId && `sample ${f.sampleId}`, f.file && `file ${f.file}`].filter(Boolean).join(', ');
      return `[${f.check}]${where ? ` (${where})` : ''} ${f.message}`;
    })
    .join('\n');
}

async function makeWritable(dir: string): Promise<void> {
  await fs.chmod(dir, 0o755);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await makeWritable(p);
    else if (entry.isFile()) await fs.chmod(p, 0o644);
  }
}

/** Regular files under `dir`, relative, sorted. Symbolic links are left alone. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await fs.readdir(path.join(dir, prefix), { withFileTypes: true })).sort((a, b) => compareStrings(a.name, b.name));
  for (const entry of entries) {
    const rel = prefix ? path.join(prefix, entry.name) : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** Copies a fixture folder to a fresh writable temporary folder and returns the copy's path. */
export async function copyFixture(root: string, prefix = 'unseg-fixture-'): Promise<string> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const copy = path.join(base, path.basename(path.resolve(root)));
  await fs.cp(root, copy, { recursive: true, verbatimSymlinks: true });
  await makeWritable(copy);
  return copy;
}

function minSamplesFor(expect: PluginExpectations, split: string): number {
  const m = expect.minSamples;
  if (m === undefined) return 1;
  if (typeof m === 'number') return m;
  return m[split] ?? 1;
}

function mentions(err: SampleError, file: string): boolean {
  return err.file === file || err.file.endsWith(path.sep + path.basename(file)) || err.message.includes(path.basename(file));
}

function outcome(s: ReaderSnapshot): string {
  if (s.openError) return `open() rejected: ${s.openError.message}`;
  const errors = s.sampleErrors.length;
  return `${s.samples.length} samples, ${errors} SampleError${errors === 1 ? '' : 's'}`;
}

async function imageSize(source: { kind: 'file'; path: string } | { kind: 'bytes'; bytes: Uint8Array }): Promise<{ width: number; height: number; orientation: number } | string> {
  try {
    const m = await sharp(source.kind === 'file' ? source.path : source.bytes).metadata();
    return { width: m.width, height: m.height, orientation: m.orientation ?? 1 };
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The checks on one clean read of the fixture. */
async function checkCleanRead(plugin: DatasetPlugin, root: string, options: CheckPluginOptions, first: ReaderSnapshot, findings: PluginFinding[]): Promise<void> {
  const expect = options.expect ?? {};
  const add = (f: PluginFinding): void => void findings.push(f);
  for (const { check, ...v } of first.violations) add({ check: check ?? 'errors', ...v });
  if (expect.splits && JSON.stringify(first.splits) !== JSON.stringify(expect.splits)) {
    add({ check: 'splits', message: `splits() gave ${JSON.stringify(first.splits)}, expected ${JSON.stringify(expect.splits)}` });
  }
  if (first.splits.length === 0) add({ check: 'splits', message: 'splits() is empty on the fixture' });

  // Determinism: the same reader twice, and a second reader, must give the same output.
  const again = await snapshotReader(plugin, root, options.openOptions);
  const firstKey = snapshotKey(first);
  if (snapshotKey(again) !== firstKey) {
    for (const split of first.splits) {
      const ids = (s: ReaderSnapshot): string => JSON.stringify((s.items[split] ?? []).map((i) => (i.kind === 'sample' ? i.id : `error:${i.file}`)));
      if (ids(first) !== ids(again)) add({ check: 'determinism', split, message: `two reads gave different orders: ${ids(first)} then ${ids(again)}` });
    }
    if (!findings.some((f) => f.check === 'determinism')) {
      add({ check: 'determinism', message: 'two reads gave the same ids but different samples, objects or masks' });
    }
  }
  try {
    const reader = await plugin.open(root, options.openOptions);
    for (const split of first.splits) {
      const ids: string[] = [];
      for (const pass of [0, 1]) {
        const seen: string[] = [];
        for await (const item of reader.samples(split)) seen.push(item instanceof SampleError ? `error:${item.file}` : item.id);
        if (pass === 0) ids.push(...seen);
        else if (JSON.stringify(seen) !== JSON.stringify(ids)) {
          add({ check: 'determinism', split, message: 'iterating samples() twice on one reader gave different sequences' });
        }
      }
    }
  } catch (err) {
    if (!(err instanceof SampleError)) add({ check: 'determinism', message: `a second iteration failed: ${String(err)}` });
  }

  const maxErrors = expect.maxErrors ?? 0;
  if (first.sampleErrors.length > maxErrors) {
    const shown = first.sampleErrors.slice(0, 5).map((e) => e.message).join('; ');
    add({ check: 'errors', message: `${first.sampleErrors.length} SampleErrors on the clean fixture (at most ${maxErrors} expected): ${shown}` });
  }
  for (const e of first.sampleErrors) {
    if (typeof e.file !== 'string' || e.file.length === 0) add({ check: 'errors', message: `a SampleError does not name its file: ${e.message}` });
  }

  for (const split of first.splits) {
    const items = first.items[split] ?? [];
    const ids = items.flatMap((i) => (i.kind === 'sample' ? [i.id] : []));
    const count = ids.length;
    if (count < minSamplesFor(expect, split)) add({ check: 'samples', split, message: `${count} samples, expected at least ${minSamplesFor(expect, split)}` });
    const want = expect.sampleIds?.[split];
    if (want && JSON.stringify(ids) !== JSON.stringify(want)) add({ check: 'samples', split, message: `sample ids ${JSON.stringify(ids)}, expected ${JSON.stringify(want)}` });
    const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (dupes.length > 0) add({ check: 'unique-ids', split, message: `sample ids repeat within the split: ${[...new Set(dupes)].join(', ')}` });
  }
  if (expect.sampleIds) {
    for (const split of Object.keys(expect.sampleIds)) {
      if (!first.splits.includes(split)) add({ check: 'samples', split, message: 'expected split is missing' });
    }
  }

  const categoriesBySplit = new Map<string, readonly Category[] | string>();
  const reader = await plugin.open(root, options.openOptions).catch(() => undefined);
  for (const split of first.splits) {
    try {
      categoriesBySplit.set(split, reader ? await reader.categories(split) : 'open failed');
    } catch (err) {
      categoriesBySplit.set(split, String(err));
      add({ check: 'categories', split, message: `categories() rejected: ${String(err)}` });
    }
  }

  for (const { split, sample, masks } of first.samples) {
    // The sample's shape (id, split, size, object fields and ids) was checked in the snapshot.
    const at = { split, sampleId: sample.id };

    const cats = categoriesBySplit.get(split);
    sample.objects.forEach((obj, k) => {
      const where = { ...at, message: '' };
      if (Array.isArray(cats)) {
        const c = (cats as readonly Category[]).find((x) => x.id === obj.categoryId);
        if (!c) add({ check: 'categories', ...where, message: `object ${obj.id}: category id ${obj.categoryId} is not in categories("${split}")` });
        else if (c.name !== obj.category || c.isThing !== obj.isThing) {
          add({ check: 'categories', ...where, message: `object ${obj.id}: category "${obj.category}" (isThing ${obj.isThing}) differs from categories(): "${c.name}" (isThing ${c.isThing})` });
        }
      }
      const m = masks[k];
      if (m === undefined || m instanceof SampleError) return;
      if (m.width !== sample.width || m.height !== sample.height) {
        add({ check: 'masks', ...where, message: `object ${obj.id}: mask is ${m.width}x${m.height}, the sample is ${sample.width}x${sample.height}` });
        return;
      }
      let sum = 0;
      for (const c of m.counts) sum += c;
      if (sum !== m.width * m.height) {
        add({ check: 'masks', ...where, message: `object ${obj.id}: RLE counts sum to ${sum}, not ${m.width * m.height} pixels` });
        return;
      }
      if ((options.expect?.nonEmptyMasks ?? true) && rleArea(m) === 0) add({ check: 'masks', ...where, message: `object ${obj.id}: mask is empty` });
      if (obj.bbox) {
        const [x, y, w, h] = obj.bbox;
        // One pixel of slack: COCO boxes are floats around polygon vertices on the border.
        if (x < -1 || y < -1 || w < 0 || h < 0 || x + w > sample.width + 1 || y + h > sample.height + 1) {
          add({ check: 'masks', ...where, message: `object ${obj.id}: bbox [${obj.bbox.join(', ')}] is outside the ${sample.width}x${sample.height} image` });
        }
      }
    });

    if (sample.image.kind === 'file') {
      if (!path.isAbsolute(sample.image.path) || !isInsideRoot(path.resolve(root), sample.image.path)) {
        add({ check: 'path-safety', ...at, message: `image path ${sample.image.path} is not an absolute path inside the root ${root}` });
        continue;
      }
    }
    if (options.checkImages ?? true) {
      const size = await imageSize(sample.image);
      if (typeof size === 'string') add({ check: 'images', ...at, message: `image header cannot be read: ${size}` });
      else {
        const rotated = size.orientation >= 5;
        const match =
          (size.width === sample.width && size.height === sample.height) || (rotated && size.width === sample.height && size.height === sample.width);
        if (!match) add({ check: 'images', ...at, message: `image is ${size.width}x${size.height}, the sample says ${sample.width}x${sample.height}` });
      }
    }
  }
}

/**
 * Mutates each file the reader depends on, one at a time, in a copy of the fixture: deleted,
 * truncated, and moved out of the root behind a symbolic link. A file whose deletion changes
 * nothing is not read by the plugin and is skipped.
 */
async function checkMutations(plugin: DatasetPlugin, root: string, options: CheckPluginOptions, findings: PluginFinding[]): Promise<void> {
  const copy = await copyFixture(root, 'unseg-check-');
  const outsideDir = path.join(path.dirname(copy), 'outside');
  await fs.mkdir(outsideDir);
  const open = { ...options.openOptions, followSymlinks: false };
  const baseline = await snapshotReader(plugin, copy, open);
  const baseKey = snapshotKey(baseline);
  const files = (await listFiles(copy)).slice(0, options.maxMutatedFiles ?? 40);
  const add = (f: PluginFinding): void => void findings.push(f);
  const contractBreaks = (s: ReaderSnapshot, rel: string, what: string): void => {
    for (const v of s.violations) add({ check: 'bad-input', file: rel, ...v, message: `${what}: ${v.message}` });
    if (s.openError && !s.openError.unseg) {
      add({ check: 'bad-input', file: rel, message: `${what}: open() rejected with ${s.openError.message}; expected a ConfigError (or another UnsegError)` });
    }
  };

  for (const [n, rel] of files.entries()) {
    const file = path.join(copy, rel);
    const saved = path.join(outsideDir, `${n}-${path.basename(rel)}`);
    const bytes = await fs.readFile(file);

    await fs.rename(file, saved);
    const deleted = await snapshotReader(plugin, copy, open);
    await fs.rename(saved, file);
    if (snapshotKey(deleted) === baseKey) continue; // not read by the plugin
    contractBreaks(deleted, rel, 'with the file deleted');
    // A reader may fall back to another file (e.g. COCO panoptic when instances are gone) or
    // lose a split whose defining file is gone; what it must not do is drop a sample unreported.
    const splitsChanged = JSON.stringify(deleted.splits) !== JSON.stringify(baseline.splits);
    const ids = (s: ReaderSnapshot): Set<string> => new Set(s.samples.map((x) => `${x.split}/${x.sample.id}`));
    const after = ids(deleted);
    const dropped = [...ids(baseline)].filter((id) => !after.has(id));
    if (!deleted.openError && !splitsChanged && dropped.length > 0 && deleted.sampleErrors.length <= baseline.sampleErrors.length) {
      add({ check: 'bad-input', file: rel, message: `deleting it dropped ${dropped.join(', ')} but no SampleError reports it` });
    }

    await fs.writeFile(file, bytes.length > 1 ? bytes.subarray(0, Math.floor(bytes.length / 2)) : Buffer.from('\0'));
    const corrupt = await snapshotReader(plugin, copy, open);
    await fs.writeFile(file, bytes);
    contractBreaks(corrupt, rel, 'with the file truncated');
    // A reader may leave the image to the engine (which decodes and checks it): an unchanged
    // output is fine, a changed one must come with a SampleError that names the file.
    if (snapshotKey(corrupt) !== baseKey && !corrupt.openError) {
      const named = corrupt.sampleErrors.some((e) => mentions(e, file));
      if (!named) {
        add({ check: 'bad-input', file: rel, message: `truncating it changed the output (${outcome(corrupt)}) but no SampleError names the file` });
      }
    }

    await fs.copyFile(file, saved);
    await fs.rm(file);
    await fs.symlink(saved, file);
    const linked = await snapshotReader(plugin, copy, open);
    const followed = await snapshotReader(plugin, copy, { ...options.openOptions, followSymlinks: true });
    await fs.rm(file);
    await fs.writeFile(file, bytes);
    await fs.rm(saved);
    contractBreaks(linked, rel, 'with the file a symbolic link out of the root');
    if (snapshotKey(linked) === baseKey) {
      add({ check: 'path-safety', file: rel, message: 'replaced by a symbolic link leading outside the root, it was still read (followSymlinks is false): use resolveInsideRoot' });
    }
    if (snapshotKey(followed) !== baseKey) {
      add({ check: 'path-safety', file: rel, message: `replaced by a symbolic link outside the root, it was not read with followSymlinks: true (${outcome(followed)})` });
    }
  }
  await fs.rm(path.dirname(copy), { recursive: true, force: true });
}

/**
 * Runs the plugin contract's checks against a fixture folder and returns what is wrong (an
 * empty list when nothing is). Never throws for a plugin's fault; a fixture that cannot be
 * copied or read does throw.
 *
 * Checks: the contract (assertPluginContract); detect() true on the fixture, false on an empty
 * and a missing folder; open() and splits(); two reads give the same samples in the same order;
 * unique sample ids per split and object ids per sample; every mask decodes at the sample's
 * size; object categories are among categories(); image headers have the sample's size; no
 * SampleError on the clean fixture; and with `mutations`, each file the reader depends on,
 * deleted or truncated, yields a SampleError (never a throw) and, put behind a symbolic link out
 * of the root, is refused unless followSymlinks.
 */
export async function checkPlugin(candidate: unknown, options: CheckPluginOptions): Promise<PluginFinding[]> {
  const findings: PluginFinding[] = [];
  let plugin: DatasetPlugin;
  try {
    plugin = assertPluginContract(candidate, options.origin ?? 'the plugin under test');
  } catch (err) {
    if (err instanceof ConfigError) return [{ check: 'contract', message: err.message }];
    throw err;
  }
  if (typeof plugin.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(plugin.name)) {
    findings.push({ check: 'contract', message: `name ${JSON.stringify(plugin.name)} is not usable on a command line` });
  }
  if (typeof plugin.version !== 'string' || !/^\d+\.\d+\.\d+/.test(plugin.version)) {
    findings.push({ check: 'contract', message: `version ${JSON.stringify(plugin.version)} is not semver` });
  }

  const root = path.resolve(options.root);
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-empty-'));
  const detects: [string, string, boolean][] = [
    ['the fixture', root, true],
    ['an empty folder', empty, false],
    ['a missing folder', path.join(empty, 'missing'), false],
  ];
  for (const [what, dir, want] of detects) {
    try {
      const got = await plugin.detect(dir);
      if (got !== want) findings.push({ check: 'detect', message: `detect() on ${what} gave ${String(got)}, expected ${want}` });
    } catch (err) {
      findings.push({ check: 'detect', message: `detect() on ${what} threw ${String(err)}; it must answer false instead` });
    }
  }
  await fs.rm(empty, { recursive: true, force: true });

  const first = await snapshotReader(plugin, root, options.openOptions);
  if (first.openError) {
    findings.push({ check: 'open', message: `open() on the fixture rejected: ${first.openError.message}` });
    return findings;
  }
  await checkCleanRead(plugin, root, options, first, findings);
  // The mutation checks compare outputs, which means nothing for a reader whose output varies.
  const deterministic = !findings.some((f) => f.check === 'determinism');
  if ((options.mutations ?? true) && deterministic) await checkMutations(plugin, root, options, findings);
  return findings;
}
