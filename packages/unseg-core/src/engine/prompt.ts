import { ConfigError } from '../errors.js';
import type { SampleObject } from '../plugin/types.js';

/**
 * Which objects make the prompt (the pixels that get eps_fg), as the official UnSeg code's
 * modes allow: every non-crowd segment, only "thing" categories, or an explicit list.
 */
export type PromptSelection =
  | { readonly kind: 'all' }
  | { readonly kind: 'things' }
  | { readonly kind: 'categories'; readonly categories: readonly string[] };

/** Parses `all`, `things`, or a comma-separated list of category names or ids. */
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
      return selection.categories.includes(object.category) || selection.categories.includes(String(object.categoryId));
  }
}

export function describePromptSelection(selection: PromptSelection): string {
  return selection.kind === 'categories' ? `categories:${selection.categories.join(',')}` : selection.kind;
}
