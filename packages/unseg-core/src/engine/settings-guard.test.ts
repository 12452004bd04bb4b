import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { refuseChangedSettings } from './settings-guard.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-guard-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const args = { plugin: 'coco', input: '/data', noise: 'unseg', seed: 1, shardSize: 100, format: 'parquet', limit: null };
const noise = (settings: Record<string, unknown>) => ({ settings, epsFgSteps: 8, epsBgSteps: 2, encode: { format: 'png' } });
const writeManifest = (settings: Record<string, unknown>) =>
  fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ run: { args }, noise: noise(settings) }));

describe('refuseChangedSettings and the generator weights', () => {
  it('refuses a resume with other weights under the same generator folder', async () => {
    await writeManifest({ modelDir: '/g', weightsSha256: 'aa' });
    await expect(refuseChangedSettings(dir, undefined, { args, noise: noise({ modelDir: '/g', weightsSha256: 'bb' }) })).rejects.toThrow(
      /noise settings was .*"weightsSha256":"aa".*now .*"weightsSha256":"bb"/,
    );
    await expect(refuseChangedSettings(dir, undefined, { args, noise: noise({ modelDir: '/g', weightsSha256: 'aa' }) })).resolves.toBeUndefined();
  });

  it('resumes with the same weights installed elsewhere or on another backend', async () => {
    await writeManifest({ modelDir: '/repo/packages/unseg-core/models/default', weightsSha256: 'aa', backend: 'wasm' });
    const moved = noise({ modelDir: '/app/node_modules/@unseg/core/models/default', weightsSha256: 'aa', backend: 'tensorflow' });
    await expect(refuseChangedSettings(dir, undefined, { args, noise: moved })).resolves.toBeUndefined();
  });

  it('resumes a folder written before the fingerprint was recorded', async () => {
    await writeManifest({ modelDir: '/g' });
    await expect(refuseChangedSettings(dir, undefined, { args, noise: noise({ modelDir: '/g', weightsSha256: 'bb' }) })).resolves.toBeUndefined();
    await expect(refuseChangedSettings(dir, undefined, { args, noise: noise({ modelDir: '/other', weightsSha256: 'bb' }) })).rejects.toThrow(/noise settings/);
  });
});

describe('refuseChangedSettings and a moved dataset', () => {
  const moved = { ...args, input: '/mnt/elsewhere/data' };
  const writeStats = (file: string, stats: Record<string, unknown>) => fs.writeFile(path.join(dir, `${file}.stats.json`), JSON.stringify({ file, rows: 1, ...stats }));

  it('resumes from another path when every completed shard records its input digest (the content is checked shard by shard)', async () => {
    await writeManifest({});
    await writeStats('train-00000.parquet', { inputDigest: 'ab' });
    await writeStats('train-00001.parquet', { inputDigest: 'cd' });
    await expect(refuseChangedSettings(dir, undefined, { args: moved, noise: noise({}) })).resolves.toBeUndefined();
  });

  it('refuses another path when a shard was written before input digests existed', async () => {
    await writeManifest({});
    await writeStats('train-00000.parquet', { inputDigest: 'ab' });
    await writeStats('train-00001.parquet', {});
    await expect(refuseChangedSettings(dir, undefined, { args: moved, noise: noise({}) })).rejects.toThrow(/--input was "\/data", now "\/mnt\/elsewhere\/data"/);
  });

  it('still refuses other changed settings beside a moved dataset', async () => {
    await writeManifest({ seed: 1 });
    await writeStats('train-00000.parquet', { inputDigest: 'ab' });
    await expect(refuseChangedSettings(dir, undefined, { args: { ...moved, seed: 2 }, noise: noise({ seed: 1 }) })).rejects.toThrow(/--seed was 1, now 2/);
  });
});

describe('refuseChangedSettings and --seed', () => {
  it('refuses another seed for a source that records one, and lets it pass for one whose noise does not depend on it', async () => {
    await writeManifest({ seed: 1, cellSize: 16 });
    await expect(refuseChangedSettings(dir, undefined, { args: { ...args, seed: 2 }, noise: noise({ seed: 2, cellSize: 16 }) })).rejects.toThrow(/--seed was 1, now 2; noise settings was/);
    // A learned code (or the generator) records no seed: a resume with another --seed publishes the same noise.
    await writeManifest({ cellSize: 16, pattern: 'codes', codes: 'aa' });
    await expect(refuseChangedSettings(dir, undefined, { args: { ...args, seed: 2 }, noise: noise({ cellSize: 16, pattern: 'codes', codes: 'aa' }) })).resolves.toBeUndefined();
  });
});
