import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { exportShards } from '@unseg/core';
import { exportRoundTrip, protectFixture, tempDir } from '@unseg/core/testing';
import plugin from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const input = path.join(here, 'test-fixtures', 'ADEChallengeData2016');
const split = 'validation';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

test.each([
  ['the original', undefined],
  ['the shards alone', null],
] as const)('export from %s loads back through the plugin: same ids, masks, and the published pixels', async (_, original) => {
  const trip = await exportRoundTrip(plugin, { input, split, original });
  dirs.push(trip.shards, trip.exported);
  expect(trip.rows.length).toBeGreaterThan(0);
  expect(trip.problems).toEqual([]);
}, 120_000);

test('from the original, the annotation PNGs are the original files byte for byte', async () => {
  const trip = await exportRoundTrip(plugin, { input, split });
  dirs.push(trip.shards, trip.exported);
  const out = trip.exported;
  const names = (await fs.readdir(path.join(input, 'annotations', split))).sort();
  expect((await fs.readdir(path.join(out, 'annotations', split))).sort()).toEqual(names);
  for (const n of names) {
    expect(Buffer.compare(await fs.readFile(path.join(out, 'annotations', split, n)), await fs.readFile(path.join(input, 'annotations', split, n)))).toBe(0);
  }
});

test('an annotation PNG replaced since the run is refused, naming the file; --from-shards still exports', async () => {
  const fixture = await protectFixture(plugin, input);
  const copy = await tempDir('unseg-ade-orig-');
  dirs.push(fixture.shards, copy);
  await fs.cp(input, copy, { recursive: true });
  const annDir = path.join(copy, 'annotations', split);
  const name = (await fs.readdir(annDir)).sort()[0] as string;
  const file = path.join(annDir, name);
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  // Relabel one pixel to another class: same size, same format, a different annotation.
  data[0] = data[0] === 1 ? 2 : 1;
  await fs.writeFile(file, await sharp(data, { raw: { width: info.width, height: info.height, channels: 1 } }).toColourspace('b-w').png().toBuffer());
  const out = await tempDir('unseg-export-');
  dirs.push(out);
  await expect(exportShards({ dir: fixture.shards, out, plugin, original: copy })).rejects.toThrow(
    new RegExp(`annotations/${split}/${name.replace('.', '\\.')} changed since the run \\(1 of its \\d+ pixels`),
  );
  const rebuilt = await tempDir('unseg-export-');
  dirs.push(rebuilt);
  expect((await exportShards({ dir: fixture.shards, out: rebuilt, plugin, original: null })).splits[split]?.images).toBe(fixture.rows.length);
}, 120_000);

test('an image published under another name than its source (a space made "_") exports with its original annotation', async () => {
  const copy = await tempDir('unseg-ade-renamed-');
  dirs.push(copy);
  await fs.cp(input, copy, { recursive: true });
  const rename = async (dir: string, ext: string) =>
    fs.rename(path.join(copy, dir, split, `ADE_val_00000001.${ext}`), path.join(copy, dir, split, `ADE val 00000001.${ext}`));
  await rename('images', 'jpg');
  await rename('annotations', 'png');
  const fixture = await protectFixture(plugin, copy);
  dirs.push(fixture.shards);
  expect(fixture.rows.map((r) => r.image.path)).toContain(`images/${split}/ADE_val_00000001.png`);
  const out = await tempDir('unseg-export-');
  dirs.push(out);
  await exportShards({ dir: fixture.shards, out, plugin, original: copy });
  const exported = await fs.readFile(path.join(out, 'annotations', split, 'ADE_val_00000001.png'));
  expect(Buffer.compare(exported, await fs.readFile(path.join(copy, 'annotations', split, 'ADE val 00000001.png')))).toBe(0);
}, 120_000);
