// A reader's whole output, with masks decoded, in a form that can be compared between runs.
// Paths are written relative to the dataset root so that a copy of a fixture elsewhere gives
// the same snapshot.
import path from 'node:path';
import { SampleError, UnsegError } from '../errors.js';
import { sampleContractProblem } from '../engine/sample-check.js';
import { rleToString } from '../masks/index.js';
import type { Rle } from '../masks/index.js';
import type { DatasetPlugin, OpenOptions, Sample, SampleObject } from '../plugin/index.js';

export interface ObjectSnapshot {
  readonly id: string;
  readonly categoryId: number;
  readonly category: string;
  readonly isThing: boolean;
  readonly isCrowd: boolean;
  readonly bbox: readonly number[] | null;
  /** `size:counts` of the RLE, or `error:<file>:<reason>` when mask() rejected with a SampleError. */
  readonly mask: string;
}

export type ItemSnapshot =
  | {
      readonly kind: 'sample';
      readonly id: string;
      readonly split: string;
      readonly width: number;
      readonly height: number;
      readonly image: string;
      readonly objects: readonly ObjectSnapshot[];
    }
  | { readonly kind: 'error'; readonly file: string; readonly sampleId: string | null; readonly code: string; readonly reason: string };

/** Something a plugin did that the contract forbids, seen while taking a snapshot. */
export interface Violation {
  /** The check it belongs to, when not `errors`. */
  readonly check?: 'samples' | 'unique-ids';
  readonly split?: string;
  readonly sampleId?: string;
  readonly message: string;
}

export interface ReaderSnapshot {
  /** Set when open() rejected; the rest is then empty. */
  readonly openError?: { readonly message: string; readonly unseg: boolean };
  readonly splits: readonly string[];
  readonly items: Readonly<Record<string, readonly ItemSnapshot[]>>;
  /** Every SampleError seen (yielded or from mask()), with its file as given. */
  readonly sampleErrors: readonly SampleError[];
  readonly violations: readonly Violation[];
  /** The live samples and their decoded masks, for the structural checks. */
  readonly samples: readonly { readonly split: string; readonly sample: Sample; readonly masks: readonly (Rle | SampleError)[] }[];
}

function relative(root: string, p: string): string {
  const rel = path.relative(root, p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : `<root>/${rel.split(path.sep).join('/')}`;
}

/** Replaces every occurrence of the root in a message, so that copies compare equal. */
function scrub(root: string, text: string): string {
  return text.split(root).join('<root>');
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function objectSnapshot(root: string, obj: SampleObject, masks: (Rle | SampleError)[], errors: SampleError[], violations: Violation[], where: Omit<Violation, 'message'>): Promise<ObjectSnapshot> {
  let mask: string;
  try {
    const rle = await obj.mask();
    masks.push(rle);
    mask = `${rle.height}x${rle.width}:${rleToString(rle)}`;
  } catch (err) {
    if (err instanceof SampleError) {
      masks.push(err);
      errors.push(err);
      mask = `error:${relative(root, err.file)}:${scrub(root, err.reason)}`;
    } else {
      violations.push({ ...where, message: `object ${obj.id}: mask() rejected with ${describe(err)}, not a SampleError naming the file` });
      mask = `thrown:${scrub(root, describe(err))}`;
    }
  }
  return {
    id: obj.id,
    categoryId: obj.categoryId,
    category: obj.category,
    isThing: obj.isThing,
    isCrowd: obj.isCrowd,
    bbox: obj.bbox ? [...obj.bbox] : null,
    mask,
  };
}

/**
 * Opens `root` with the plugin, reads every split to the end and decodes every mask. Nothing
 * thrown escapes: a throw the contract does not allow becomes a violation.
 */
export async function snapshotReader(plugin: DatasetPlugin, root: string, openOptions?: OpenOptions): Promise<ReaderSnapshot> {
  const items: Record<string, ItemSnapshot[]> = {};
  const sampleErrors: SampleError[] = [];
  const violations: Violation[] = [];
  const samples: { split: string; sample: Sample; masks: (Rle | SampleError)[] }[] = [];
  let reader;
  try {
    reader = await plugin.open(root, openOptions);
  } catch (err) {
    return {
      openError: { message: scrub(root, describe(err)), unseg: err instanceof UnsegError },
      splits: [],
      items,
      sampleErrors,
      violations,
      samples,
    };
  }
  let splits: string[];
  try {
    splits = await reader.splits();
  } catch (err) {
    violations.push({ message: `splits() rejected: ${describe(err)}` });
    splits = [];
  }
  for (const split of splits) {
    const list: ItemSnapshot[] = [];
    items[split] = list;
    try {
      for await (const item of reader.samples(split)) {
        if (item instanceof SampleError) {
          sampleErrors.push(item);
          list.push({ kind: 'error', file: relative(root, item.file), sampleId: item.sampleId ?? null, code: item.code, reason: scrub(root, item.reason) });
          continue;
        }
        const malformed = sampleContractProblem(item, split);
        if (malformed !== undefined) {
          const check = malformed.kind === 'repeated-object-id' ? 'unique-ids' : 'samples';
          violations.push({ check, split, message: `a malformed sample, which the engine fails: ${malformed.message}` });
          continue;
        }
        const where = { split, sampleId: item.id };
        const masks: (Rle | SampleError)[] = [];
        const objects: ObjectSnapshot[] = [];
        for (const obj of item.objects) objects.push(await objectSnapshot(root, obj, masks, sampleErrors, violations, where));
        samples.push({ split, sample: item, masks });
        list.push({
          kind: 'sample',
          id: item.id,
          split: item.split,
          width: item.width,
          height: item.height,
          image: item.image.kind === 'file' ? relative(root, item.image.path) : `bytes:${item.image.name}:${item.image.bytes.length}`,
          objects,
        });
      }
    } catch (err) {
      violations.push({ split, message: `samples("${split}") threw ${describe(err)} instead of yielding a SampleError` });
    }
  }
  return { splits, items, sampleErrors, violations, samples };
}

/** A comparable rendering of what the reader produced (not of how it failed to). */
export function snapshotKey(s: ReaderSnapshot): string {
  return JSON.stringify({ open: s.openError?.message ?? null, splits: s.splits, items: s.items });
}
