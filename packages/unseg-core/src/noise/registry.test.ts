import { ConfigError } from '../errors.js';
import { createNoiseSource, noiseSourceNames } from './registry.js';

describe('createNoiseSource', () => {
  it('passes the cell size to the classwise source', async () => {
    const source = await createNoiseSource('classwise', { seed: 3, cellSize: 4096 });
    expect(source.settings).toEqual({ seed: 3, cellSize: 4096 });
  });

  it('passes the pattern to the classwise source', async () => {
    const source = await createNoiseSource('classwise', { seed: 3, cellSize: 16, pattern: 'grating' });
    expect(source.settings).toEqual({ seed: 3, cellSize: 16, pattern: 'grating' });
  });

  it('rejects options that the chosen source would ignore', async () => {
    await expect(createNoiseSource('uniform', { cellSize: 8 })).rejects.toThrow(ConfigError);
    await expect(createNoiseSource('sign', { generator: 'some/dir' })).rejects.toThrow(/only applies to the unseg/);
    await expect(createNoiseSource('sign', { pattern: 'grating' })).rejects.toThrow(/pattern only applies to the classwise/);
  });

  it('names every source it can create', async () => {
    const names = noiseSourceNames().map((n) => n.name);
    expect(names).toEqual(expect.arrayContaining(['none', 'uniform', 'sign', 'classwise', 'unseg']));
    await expect(createNoiseSource('nope')).rejects.toThrow(/choose one of: none, uniform/);
  });
});
