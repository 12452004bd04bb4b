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
 * name that lists several (see resolvePromptSelection).
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
      return selection.categories.some((entry) => entry === String(object.categoryId) || entry === object.category.trim());
  }
}

export function describePromptSelection(selection: PromptSelection): string {
  return selection.kind === 'categories' ? `categories:${selection.categories.join(',')}` : selection.kind;
}


/** The synonyms of a name that lists several (ADE20K's "floor, flooring"); none for a plain name. */
function synonyms(name: string): string[] {
  return name.includes(',') ? name.split(',').map((x) => x.trim()) : [];
}

/**
 * The selection with every entry made exact for inPrompt, against the dataset's categories: an
 * id or a whole name (compared without surrounding spaces: ADE20K has "bed ") stays as it is; an
 * entry that is neither but is one synonym of exactly one category's name ("floor" of "floor,
 * flooring") becomes that category's id. An entry that names no category is refused (a typo
 * would publish every image with no foreground budget), and so is a synonym that several names
 * share ("screen" is in three of ADE20K's), listing them. Exact names win, so a prompt that
 * worked before synonyms were understood selects what it did then.
 */
export function resolvePromptSelection(selection: PromptSelection, categories: readonly Category[], root: string): PromptSelection {
  if (selection.kind !== 'categories') return selection;
  const unknown: string[] = [];
  const resolved = selection.categories.map((raw) => {
    const entry = raw.trim();
    if (categories.some((c) => String(c.id) === entry || c.name.trim() === entry)) return entry;
    const matches = categories.filter((c) => synonyms(c.name).includes(entry));
    if (matches.length === 1) return String(matches[0]!.id);
    if (matches.length > 1) {
      throw new ConfigError(
        `--prompt names "${entry}", which is a synonym in ${matches.length} categories of ${root}: ` +
          `${matches.map((c) => `${c.id} ${JSON.stringify(c.name.trim())}`).join(', ')}; give the id of the one you mean`,
      );
    }
    unknown.push(entry);
    return entry;
  });
  if (unknown.length > 0) {
    // A name that lists synonyms is quoted whole, so that its commas do not read as separators.
    const names = [...new Set(categories.map((c) => (c.name.includes(',') ? JSON.stringify(c.name.trim()) : c.name.trim())))];
    const listed = names.length === 0 ? 'it lists no categories' : `it has: ${names.slice(0, 40).join(', ')}${names.length > 40 ? `, ... (${names.length} in all)` : ''}`;
    throw new ConfigError(`--prompt names ${unknown.map((u) => JSON.stringify(u)).join(', ')}, which the dataset ${root} has no category of; ${listed}`);
  }
  return { kind: 'categories', categories: resolved };
}
