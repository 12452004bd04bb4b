// Hostile input through the real code path: the CLI's `run` (in-process, so no build is
// needed), the coco plugin, the engine and the shard writer, on a dataset generated here with
// one fault per image. Each bad sample must cost that sample only: the run goes on, exits 2,
// and names the file and the problem in the summary and in manifest.json.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import sharp from 'sharp';
import { rleDecode, rleFromString } from '@unseg/core';
import { main } from './program.js';
import { H, W, writeHostileCoco, type HostileCase } from './test-helpers/coco-fixtures.js';

interface ManifestFailure {
  split: string;
  position: number;
  id: string | null;
  file: string;
  code: string;
  reason: string;
}

let tmp: string;
let root: string;
let out: string;
let cases: HostileCase[];
let code: number;
let stderr: string;
let manifest: { totals: { rows: number; failures: number }; failures: ManifestFailure[] };
let rows: { id: string; width: number; height: number; bytes: Uint8Array; rles: string[] }[];
const outsideFiles = new Map<string, number>();

async function runCli(args: string[]): Promise<{ code: number; stderr: string }> {
  const chunks: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string | Uint8Array) => (chunks.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const c = await main(['node', 'unseg-pipeline', ...args]);
    return { code: c, stderr: chunks.join('') };
  } finally {
    process.stderr.write = write;
  }
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-hostile-'));
  root = path.join(tmp, 'data', 'coco');
  out = path.join(tmp, 'out');
  ({ cases } = await writeHostileCoco(root, path.join(tmp, 'outside')));
  // What sits outside the root and --out must be unchanged afterwards (nothing written there).
  for (const f of await fs.readdir(tmp, { recursive: true })) {
    const p = path.join(tmp, f);
    const st = await fs.lstat(p);
    if (st.isFile()) outsideFiles.set(p, st.mtimeMs);
  }
  ({ code, stderr } = await runCli(['run', 'coco', '--in', root, '--out', out, '--noise', 'uniform', '--progress', 'none', '--shard-size', '8']));
  manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8'));
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(
    `select id, width, height, image.bytes as bytes, list_transform(objects, o -> o.rle) as rles from read_parquet('${out}/*.parquet') order by split, position`,
  );
  rows = r.getRowObjects().map((o) => ({
    id: String(o.id),
    width: Number(o.width),
    height: Number(o.height),
    bytes: (o.bytes as { bytes: Uint8Array }).bytes,
    rles: (o.rles as { items: string[] }).items,
  }));
  c.closeSync();
  db.closeSync();
}, 60_000);

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('a run over hostile input', () => {
  it('goes on to the end and exits 2', () => {
    expect(code).toBe(2);
    expect(stderr).toMatch(/done: \d+ images published, \d+ failed/);
  });

  it('publishes exactly the valid images, converted to 8-bit sRGB RGB', () => {
    const expected = cases.filter((c) => !c.reason).map((c) => c.id);
    expect(rows.map((r) => r.id)).toEqual(expected);
    expect(manifest.totals.rows).toBe(expected.length);
  });

  it('lists every bad sample in manifest.json with its file and a clear reason', () => {
    const bad = cases.filter((c) => c.reason);
    const hostile = manifest.failures.filter((f) => f.split === 'hostile');
    // One failure per bad case, none more (a valid image failing would show up here).
    expect(hostile).toHaveLength(bad.length);
    for (const c of bad) {
      const matches = hostile.filter((f) => f.id === c.id && c.reason!.test(f.reason) && f.file.endsWith(c.file!));
      if (matches.length === 0) {
        throw new Error(`${c.name} (id ${c.id}): no failure matching ${c.reason} in ${c.file}; got ${JSON.stringify(hostile.filter((f) => f.id === c.id))}`);
      }
    }
    // Each duplicate-id record is its own failure, at its own position.
    expect(new Set(hostile.filter((f) => f.id === '21').map((f) => f.position)).size).toBe(2);
  });

  it('fails a split whose annotation file does not parse or lacks required fields, once, naming the file', () => {
    const broken = manifest.failures.filter((f) => f.split === 'broken');
    expect(broken).toHaveLength(1);
    expect(broken[0]!.file).toMatch(/instances_broken\.json$/);
    expect(broken[0]!.reason).toMatch(/not valid JSON/);
    const nofields = manifest.failures.filter((f) => f.split === 'nofields');
    expect(nofields).toHaveLength(1);
    expect(nofields[0]!.file).toMatch(/instances_nofields\.json$/);
    expect(nofields[0]!.reason).toMatch(/has no "annotations" array|has no "categories"/);
  });

  it('counts every failure in the summary the user sees', () => {
    const m = /done: (\d+) images published, (\d+) failed/.exec(stderr)!;
    expect(Number(m[1])).toBe(manifest.totals.rows);
    expect(Number(m[2])).toBe(manifest.failures.length);
    expect(manifest.totals.failures).toBe(manifest.failures.length);
    // The file and the reason reach the terminal too.
    expect(stderr).toMatch(/failed: .*truncated\.jpg: cannot decode image/);
  });

  it('says which images were converted (alpha, 16-bit, CMYK, grayscale) and that EXIF orientation was not applied', () => {
    expect(stderr).toMatch(/converted to 8-bit sRGB RGB: .*alpha removed: 1/);
    expect(stderr).toMatch(/ushort reduced to 8-bit: 2/);
    expect(stderr).toMatch(/cmyk converted to sRGB: 1/);
    expect(stderr).toMatch(/EXIF orientation recorded, not applied: 1/);
  });

  it('keeps an EXIF-rotated image and its masks on the stored pixel grid', async () => {
    const row = rows.find((r) => r.id === '11')!;
    // Orientation 6 would swap width and height if it were applied.
    expect([row.width, row.height]).toEqual([W, H]);
    const published = await sharp(row.bytes).raw().toBuffer({ resolveWithObject: true });
    expect([published.info.width, published.info.height]).toEqual([W, H]);
    const stored = await sharp(path.join(root, 'hostile', 'exif6.jpg')).raw().toBuffer();
    let max = 0;
    for (let i = 0; i < stored.length; i++) max = Math.max(max, Math.abs(stored[i]! - published.data[i]!));
    // Same grid: every pixel within the 8/255 budget of the stored (unrotated) pixel.
    expect(max).toBeLessThanOrEqual(8);
    // The box x 4..20, y 4..16 is where the annotation drew it, not rotated.
    const mask = rleDecode(rleFromString(row.rles[0]!, H, W));
    expect(mask.data[5 * W + 5]).toBe(1);
    expect(mask.data[20 * W + 5]).toBe(0);
    expect(mask.data.reduce((a, b) => a + b, 0)).toBe(16 * 12);
  });

  it('reads nothing outside the root and writes nothing outside --out', async () => {
    for (const [p, mtime] of outsideFiles) expect((await fs.lstat(p)).mtimeMs).toBe(mtime);
    const created = (await fs.readdir(tmp, { recursive: true }))
      .map((f) => path.join(tmp, f))
      .filter((p) => !outsideFiles.has(p) && !p.startsWith(out));
    const files = [];
    for (const p of created) if ((await fs.lstat(p)).isFile()) files.push(p);
    expect(files).toEqual([]);
    // The symlinked image's pixels must not be in the output either.
    expect(rows.map((r) => r.id)).not.toContain('18');
  });
});
