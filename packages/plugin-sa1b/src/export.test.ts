import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRgb, encodeRgb } from '@unseg/core';
import { compareExport, exportRoundTrip } from '@unseg/core/testing';
import plugin from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const input = path.join(here, 'test-fixtures', 'sa1b');
const split = 'train';

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

test('from the original, the JSON is unchanged but for image.file_name', async () => {
  const trip = await exportRoundTrip(plugin, { input, split });
  dirs.push(trip.shards, trip.exported);
  const out = trip.exported;
  const a = JSON.parse(await fs.readFile(path.join(input, 'sa_000000/sa_1.json'), 'utf8')) as { image: Record<string, unknown> };
  const b = JSON.parse(await fs.readFile(path.join(out, 'sa_000000/sa_1.json'), 'utf8')) as typeof a;
  expect(b).toEqual({ ...a, image: { ...a.image, file_name: 'sa_1.png' } });
});

test('the harness catches an export whose image lost the noise', async () => {
  const trip = await exportRoundTrip(plugin, { input, split });
  dirs.push(trip.shards, trip.exported);
  // Put the input's own pixels back where the protected image was exported.
  const clean = (await decodeRgb(path.join(input, 'sa_000000/sa_1.jpg'))).image;
  await fs.writeFile(path.join(trip.exported, 'sa_000000/sa_1.png'), await encodeRgb(clean));
  const problems = await compareExport(plugin, { exported: trip.exported, input, split, rows: trip.rows });
  expect(problems).toEqual([
    'sa_1: exported file is not the published image byte for byte',
    'sa_1: exported pixels differ from the published ones',
    'sa_1: exported pixels are the input\'s: the noise is missing',
  ]);
});
