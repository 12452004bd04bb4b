import type { Category, SampleObject } from '../plugin/types.js';
import { checkPromptCategories, inPrompt, namesCategory, parsePromptSelection } from './prompt.js';

// ADE20K's names list synonyms, and some end in a space.
const ade: Category[] = [
  { id: 4, name: 'floor, flooring', isThing: false },
  { id: 8, name: 'bed ', isThing: true },
  { id: 13, name: 'person, individual, someone, somebody, mortal, soul', isThing: true },
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

describe('--prompt category names', () => {
  it('name a category by id, by its whole name, or by one synonym of a name that lists several', () => {
    expect(namesCategory('4', 'floor, flooring', 4)).toBe(true);
    expect(namesCategory('floor', 'floor, flooring', 4)).toBe(true);
    expect(namesCategory('flooring', 'floor, flooring', 4)).toBe(true);
    expect(namesCategory('floor, flooring', 'floor, flooring', 4)).toBe(true);
    expect(namesCategory('bed', 'bed ', 8)).toBe(true);
    expect(namesCategory('flo', 'floor, flooring', 4)).toBe(false);
    expect(namesCategory('person', 'person', 1)).toBe(true);
  });

  it('select objects of ADE20K classes whose names hold commas, and refuse an unknown one listing names whole', () => {
    const selection = parsePromptSelection('person,floor');
    expect(() => checkPromptCategories(selection, ade, '/ade')).not.toThrow();
    expect(ade.map((c) => inPrompt(object(c), selection))).toEqual([true, false, true]);
    expect(inPrompt(object(ade[2]!, true), selection)).toBe(false);
    expect(() => checkPromptCategories(parsePromptSelection('bed,sofa'), ade, '/ade')).toThrow(
      /--prompt names "sofa", which the dataset \/ade has no category of; it has: "floor, flooring", bed, "person, individual/,
    );
  });
});
