import { SampleError } from '../errors.js';
import type { Sample } from '../plugin/types.js';
import { SampleChecker } from './sample-check.js';

const good = (id = 'a'): Sample => ({
  id,
  split: 'train',
  image: { kind: 'file', path: '/data/a.png' },
  width: 4,
  height: 3,
  objects: [{ id: 'o1', categoryId: 1, category: 'thing', isThing: true, isCrowd: false, mask: async () => ({ height: 3, width: 4, counts: new Uint32Array([12]) }), annotation: { x: 1 } }],
});

const withObject = (patch: Record<string, unknown>): unknown => ({ ...good(), objects: [{ ...good().objects[0], ...patch }] });

function reasonOf(item: unknown): string {
  const out = new SampleChecker('plugin "p"', 'train').check(item, 7);
  if (!(out instanceof SampleError)) throw new Error('expected the sample to be refused');
  expect(out.file).toBe('plugin "p"');
  expect(out.reason).toMatch(/^position 7 of split "train": /);
  return out.reason;
}

describe('SampleChecker', () => {
  it('passes a well-formed sample and a SampleError through unchanged', () => {
    const checker = new SampleChecker('plugin "p"', 'train');
    const s = good();
    expect(checker.check(s, 0)).toBe(s);
    const e = new SampleError('x.json', 'bad');
    expect(checker.check(e, 1)).toBe(e);
  });

  it.each([
    ['null', null, /yielded null where a sample/],
    ['a string', 'img1', /yielded string "img1" where a sample/],
    ['a numeric id', { ...good(), id: 12345 }, /id must be a non-empty string, got number 12345/],
    ['no id', { ...good(), id: undefined }, /id must be a non-empty string, got undefined/],
    ['another split', { ...good(), split: 'valid' }, /says split string "valid" but was read for split "train"/],
    ['no image', { ...good(), image: undefined }, /image must be/],
    ['bytes that are not bytes', { ...good(), image: { kind: 'bytes', bytes: [1, 2], name: 'x' } }, /image must be/],
    ['a fractional width', { ...good(), width: 2.5 }, /width and height must be positive integers, got number 2.5 x number 3/],
    ['objects not an array', { ...good(), objects: null }, /objects must be an array, got null/],
    ['an object that is null', { ...good(), objects: [null] }, /objects\[0\] is null, not an object/],
    ['an object id that is a number', withObject({ id: 3 }), /objects\[0\]\.id must be a non-empty string, got number 3/],
    ['no category id', withObject({ categoryId: undefined }), /object o1: categoryId must be an integer/],
    ['no category name', withObject({ category: undefined }), /object o1: category must be a string/],
    ['no isThing', withObject({ isThing: undefined }), /object o1: isThing must be true or false, got undefined/],
    ['isCrowd as 0/1', withObject({ isCrowd: 1 }), /object o1: isCrowd must be true or false, got number 1/],
    ['no mask function', withObject({ mask: 'rle' }), /object o1: mask must be a function/],
  ])('refuses %s, naming what is wrong', (_, item, reason) => {
    expect(reasonOf(item)).toMatch(reason);
  });

  it('refuses an annotation that cannot be stored as JSON (a cycle)', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(reasonOf(withObject({ annotation: cyclic }))).toMatch(/object o1: its annotation record cannot be stored as JSON/);
  });

  it('refuses two objects with one id in a sample', () => {
    const s = good();
    expect(reasonOf({ ...s, objects: [s.objects[0], s.objects[0]] })).toMatch(/object o1 appears twice in the sample/);
  });

  it('tells repeated ids apart from new ones across many samples (the fingerprint table grows)', () => {
    const checker = new SampleChecker('plugin "p"', 'train');
    let refused = 0;
    for (let i = 0; i < 50_000; i++) if (checker.check(good(`img${i}`), i) instanceof SampleError) refused++;
    expect(refused).toBe(0);
    expect(checker.check(good('img0'), 50_000)).toMatchObject({ code: 'DUPLICATE_SAMPLE_ID' });
    expect(checker.check(good('img49999'), 50_001)).toMatchObject({ code: 'DUPLICATE_SAMPLE_ID' });
    expect(checker.check(good('img50000'), 50_002)).not.toBeInstanceOf(SampleError);
  });

  it('leaves annotations unchecked when asked (samples that are not published)', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const checker = new SampleChecker('plugin "p"', 'train');
    expect(checker.check(withObject({ annotation: cyclic }), 0, { annotations: false })).not.toBeInstanceOf(SampleError);
  });

  it('refuses a sample id used before in the split, keeping the first', () => {
    const checker = new SampleChecker('plugin "p"', 'train');
    expect(checker.check(good('a'), 0)).not.toBeInstanceOf(SampleError);
    expect(checker.check(good('b'), 1)).not.toBeInstanceOf(SampleError);
    const again = checker.check(good('a'), 2);
    expect(again).toBeInstanceOf(SampleError);
    expect(again).toMatchObject({ code: 'DUPLICATE_SAMPLE_ID', sampleId: 'a' });
    expect((again as SampleError).reason).toMatch(/position 2 of split "train": sample id a was already used/);
  });
});
