import { ConfigError } from '@unseg/core';
import type { TrainerOptions } from '@unseg/train';
import { parseDataSpec, parsePrompts, parseSchedule } from './train.js';

// The mix's other settings ride along untouched; their values do not matter here.
const PROMPTS: TrainerOptions['prompts'] = { points: 0.7, box: 0.2, mask: 0.1, maxPoints: 3, pointSigma: 1 / 32, maskGrid: 8 };

describe('train option parsing', () => {
  it('reads plugin:dir[@split]', () => {
    expect(parseDataSpec('sa1b:../data/sa1b')).toEqual({ plugin: 'sa1b', dir: '../data/sa1b', split: undefined });
    expect(parseDataSpec('coco:data/coco-facades@train')).toEqual({ plugin: 'coco', dir: 'data/coco-facades', split: 'train' });
    expect(() => parseDataSpec('nodir')).toThrow(ConfigError);
  });
  it('reads the paper schedule and refuses zero units', () => {
    expect(parseSchedule('epoch:1:3')).toEqual({ unit: 'epoch', surrogate: 1, generator: 3 });
    expect(() => parseSchedule('epoch:0:3')).toThrow(/S, G >= 1/);
  });
  it('reads prompt weights', () => {
    expect(parsePrompts('points=1,box=0,mask=0', PROMPTS)).toMatchObject({ points: 1, box: 0, mask: 0 });
    expect(() => parsePrompts('points=0,box=0,mask=0', PROMPTS)).toThrow(/weight > 0/);
    expect(() => parsePrompts('scribble=1', PROMPTS)).toThrow(/expected e.g./);
    expect(parsePrompts('points=1', PROMPTS)).toEqual({ ...PROMPTS, points: 1 });
  });
});
