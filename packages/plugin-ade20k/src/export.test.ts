import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportRoundTrip } from '@unseg/core/testing';
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
