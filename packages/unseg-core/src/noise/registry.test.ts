import { ConfigError } from '../errors.js';
import { createNoiseSource, noiseSourceNames } from './registry.js';

describe('createNoiseSource', () => {
  it('passes the cell size to the classwise source', async () => {
    const source = await createNoiseSource('classwise', { seed: 3, cellSize: 4096 });
    expect(source.settings).toEqual({ seed: 3, cellSize: 4096, overlap: 'smaller', categoryZero: 'coded' });
  });

  it('passes the pattern to the classwise source', async () => {
    const source = await createNoiseSource('classwise', { seed: 3, cellSize: 16, pattern: 'grating' });
    expect(source.settings).toEqual({ seed: 3, cellSize: 16, pattern: 'grating', orientations: 5, overlap: 'smaller', categoryZero: 'coded' });
  });

  it('passes the cell size to the grating source as its stripe width', async () => {
    const source = await createNoiseSource('grating', { seed: 2, cellSize: 16 });
    expect(source.settings).toEqual({ seed: 2, stripeWidth: 16 });
  });

  it('rejects options that the chosen source would ignore', async () => {
    await expect(createNoiseSource('uniform', { cellSize: 8 })).rejects.toThrow(ConfigError);
    await expect(createNoiseSource('uniform', { cellSize: 8 })).rejects.toThrow(/cell size only applies to the classwise and grating noise sources/);
    await expect(createNoiseSource('grating', { pattern: 'cells' })).rejects.toThrow(/pattern only applies to the classwise/);
    await expect(createNoiseSource('sign', { generator: 'some/dir' })).rejects.toThrow(/only applies to the unseg/);
    await expect(createNoiseSource('sign', { pattern: 'grating' })).rejects.toThrow(/pattern only applies to the classwise/);
  });

  it('names every source it can create', async () => {
    const names = noiseSourceNames().map((n) => n.name);
    expect(names).toEqual(expect.arrayContaining(['none', 'uniform', 'sign', 'classwise', 'grating', 'unseg']));
    await expect(createNoiseSource('nope')).rejects.toThrow(/choose one of: none, uniform/);
  });
});
