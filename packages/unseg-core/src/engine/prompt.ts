import { ConfigError } from '../errors.js';
import type { Category, SampleObject } from '../plugin/types.js';

/**
 * Which objects make the prompt (the pixels that get eps_fg), as the official UnSeg code's
 * modes allow: every non-crowd segment, only "thing" categories, or an explicit list.
 */
export type PromptSelection =
  | { readonly kind: 'all' }
  | { readonly kind: 'things' }
  | { readonly kind: 'categories'; readonly categories: readonly string[] };

/**
 * Parses `all`, `things`, or a comma-separated list of category names, ids, or synonyms of a
 * name that lists several (see namesCategory).
 */
export function parsePromptSelection(text: string): PromptSelection {
  const t = text.trim();
  if (t === '' ) throw new ConfigError('--prompt is empty: use all, things, or a comma-separated list of categories');
  if (t === 'all') return { kind: 'all' };
  if (t === 'things') return { kind: 'things' };
  const categories = t.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return { kind: 'categories', categories };
}

/** Crowd regions are never prompted: COCO defines them as regions to ignore. */
export function inPrompt(object: SampleObject, selection: PromptSelection): boolean {
  if (object.isCrowd) return false;
  switch (selection.kind) {
    case 'all':
      return true;
    case 'things':
      return object.isThing;
    case 'categories':
      return selection.categories.some((entry) => namesCategory(entry, object.category, object.categoryId));
  }
}

/**
 * Whether a --prompt entry names a category: its id, its name, or one of the synonyms of a name
 * that lists several (ADE20K's "floor, flooring", "person, individual, someone, ..."), all
 * compared without surrounding spaces (ADE20K also has "bed " and "window ").
 */
export function namesCategory(entry: string, name: string, id: number): boolean {
  const e = entry.trim();
  if (e === String(id) || e === name.trim()) return true;
  return name.includes(',') && name.split(',').some((synonym) => synonym.trim() === e);
}

export function describePromptSelection(selection: PromptSelection): string {
  return selection.kind === 'categories' ? `categories:${selection.categories.join(',')}` : selection.kind;
}

/**
 * Refuses a category list that names a category the dataset does not have (by name or id): a
 * typo there would otherwise publish every image with no foreground budget at all.
 */
export function checkPromptCategories(selection: PromptSelection, categories: readonly Category[], root: string): void {
  if (selection.kind !== 'categories') return;
  const unknown = selection.categories.filter((entry) => !categories.some((c) => namesCategory(entry, c.name, c.id)));
  if (unknown.length === 0) return;
  // A name that lists synonyms is quoted whole, so that its commas do not read as separators.
  const names = [...new Set(categories.map((c) => (c.name.includes(',') ? JSON.stringify(c.name.trim()) : c.name.trim())))];
  const listed = names.length === 0 ? 'it lists no categories' : `it has: ${names.slice(0, 40).join(', ')}${names.length > 40 ? `, ... (${names.length} in all)` : ''}`;
  throw new ConfigError(`--prompt names ${unknown.map((u) => JSON.stringify(u)).join(', ')}, which the dataset ${root} has no category of; ${listed}`);
}
