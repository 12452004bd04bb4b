import type { Category, SampleObject } from '../plugin/types.js';
import { inPrompt, parsePromptSelection, resolvePromptSelection } from './prompt.js';

// ADE20K's names list synonyms, some end in a space, and some synonyms are shared.
const ade: Category[] = [
  { id: 4, name: 'floor, flooring', isThing: false },
  { id: 8, name: 'bed ', isThing: true },
  { id: 13, name: 'person, individual, someone, somebody, mortal, soul', isThing: true },
  { id: 46, name: 'counter', isThing: true },
  { id: 100, name: 'buffet, counter, sideboard', isThing: true },
  { id: 59, name: 'screen door, screen', isThing: true },
  { id: 131, name: 'screen, silver screen, projection screen', isThing: true },
];
const object = (c: Category, isCrowd = false): SampleObject => ({
  id: String(c.id),
  categoryId: c.id,
  category: c.name,
  isThing: c.isThing,
  isCrowd,
  mask: async () => {
    throw new Error('not needed');
  },
  annotation: null,
});
const selected = (text: string): number[] => {
  const selection = resolvePromptSelection(parsePromptSelection(text), ade, '/ade');
  return ade.filter((c) => inPrompt(object(c), selection)).map((c) => c.id);
};

describe('--prompt category names', () => {
  it('select by id, by whole name (spaces around it ignored), or by a synonym of one name', () => {
    expect(selected('4')).toEqual([4]);
    expect(selected('floor')).toEqual([4]);
    expect(selected('flooring,person')).toEqual([4, 13]);
    expect(selected('bed')).toEqual([8]);
    expect(inPrompt(object(ade[2]!, true), resolvePromptSelection(parsePromptSelection('person'), ade, '/ade'))).toBe(false);
  });

  it('let an exact name win over a synonym, so an old prompt selects what it did', () => {
    expect(selected('counter')).toEqual([46]);
    expect(selected('buffet')).toEqual([100]);
  });

  it('refuse a synonym that several names share, listing them, and an unknown name, quoting names whole', () => {
    expect(() => selected('screen')).toThrow(/"screen", which is a synonym in 2 categories of \/ade: 59 "screen door, screen", 131 "screen, silver screen, projection screen"; give the id of the one you mean/);
    expect(() => selected('bed,sofa')).toThrow(/--prompt names "sofa", which the dataset \/ade has no category of; it has: "floor, flooring", bed, "person, individual/);
  });
});
