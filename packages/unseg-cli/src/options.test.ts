import { ConfigError } from '@unseg/core';
import { formatEps, parseEps, parsePositiveInt } from './options.js';

describe('parseEps', () => {
  it('accepts fractions, decimals and 8-bit steps', () => {
    expect(parseEps('8/255', '--eps-fg')).toBeCloseTo(8 / 255, 12);
    expect(parseEps('2 / 255', '--eps-bg')).toBeCloseTo(2 / 255, 12);
    expect(parseEps('0.5', '--eps-fg')).toBe(0.5);
    expect(parseEps('8', '--eps-fg')).toBeCloseTo(8 / 255, 12);
  });
  it('refuses nonsense and out-of-range budgets, naming the flag', () => {
    expect(() => parseEps('abc', '--eps-fg')).toThrow(ConfigError);
    expect(() => parseEps('abc', '--eps-fg')).toThrow(/--eps-fg/);
    expect(() => parseEps('300/255', '--eps-bg')).toThrow(/between 0 and 1/);
    expect(() => parseEps('1/0', '--eps-bg')).toThrow(/between 0 and 1/);
  });
  it('round-trips through formatEps', () => {
    expect(formatEps(parseEps('8/255', 'x'))).toBe('8/255');
  });
});

describe('parsePositiveInt', () => {
  it('refuses zero and fractions', () => {
    expect(parsePositiveInt('3', '--limit')).toBe(3);
    expect(() => parsePositiveInt('0', '--limit')).toThrow(/--limit/);
    expect(() => parsePositiveInt('1.5', '--limit')).toThrow(/whole number/);
  });
});
