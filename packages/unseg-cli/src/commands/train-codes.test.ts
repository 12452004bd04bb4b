import { ConfigError } from '@unseg/core';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeCleanCoco } from '../test-helpers/coco-fixtures.js';
import { cliInProcess } from '../test-helpers/in-process.js';
import { autoPublishCell, medianSide, parseScaleRange, parseWidths } from './train-codes.js';

describe('train-codes option parsing', () => {
  it('reads a rescale range and surrogate widths, refusing what would not train', () => {
    expect(parseScaleRange('0.5-2')).toEqual({ min: 0.5, max: 2 });
    expect(parseScaleRange(' 1 - 1 ')).toEqual({ min: 1, max: 1 });
    for (const bad of ['2-0.5', '0-1', '1', 'a-b', '']) expect(() => parseScaleRange(bad)).toThrow(ConfigError);
    expect(parseWidths('16,32,64')).toEqual([16, 32, 64]);
    for (const bad of ['', '16,,32', '0,8', '1.5', '4,4,4,4,4,4']) expect(() => parseWidths(bad)).toThrow(/--widths/);
  });
  it('publishes the codes at the scale they were learned at (--publish-cell auto)', () => {
    const mixed = [{ width: 1024, height: 1024 }, { width: 640, height: 480 }, { width: 800, height: 600 }];
    // Sides 1024, 554 and 693 (sqrt of width x height): 2 px at 128 is 10.8 image px at 693.
    expect(medianSide(mixed)).toBe(693);
    expect(autoPublishCell(2, 128, medianSide(mixed))).toBe(11);
    expect(autoPublishCell(2, 128, medianSide([{ width: 1024, height: 1024 }]))).toBe(16);
    expect(medianSide([{ width: 100, height: 100 }, { width: 300, height: 300 }])).toBe(200);
    expect(autoPublishCell(1, 512, medianSide([{ width: 64, height: 64 }]))).toBe(1);
  });
});

describe('train-codes end to end', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-cli-train-codes-'));
    await writeCleanCoco(path.join(tmp, 'coco'), 3);
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const tiny = ['--size', '16', '--crop', '16', '--scale', '1-1.5', '--batch', '2', '--rounds', '1', '--model-steps', '1', '--tile', '2', '--cell', '2', '--widths', '4,8', '--backend', 'wasm'];

  it('refuses a crop the surrogate cannot take or that no rescale reaches, before reading data', async () => {
    const base = ['train-codes', '--data', 'coco:/no/such/folder', '--out', path.join(tmp, 'x.json')];
    const odd = await cliInProcess([...base, '--crop', '18', '--widths', '4,8,16']);
    expect(odd.code).toBe(1);
    expect(odd.stderr).toContain("--crop 18: must be a multiple of 4 (the surrogate's 3 levels)");
    const big = await cliInProcess([...base, '--size', '32', '--crop', '96', '--scale', '0.5-2']);
    expect(big.code).toBe(1);
    expect(big.stderr).toContain('--crop 96: larger than the largest rescale of --size 32 (32 x 2)');
    const silent = await cliInProcess([...base, '--eps-fg', '0', '--eps-bg', '0']);
    expect(silent.code).toBe(1);
    expect(silent.stderr).toContain('--eps-fg and --eps-bg are both 0');
    for (const share of ['1.5', '-0.1', 'half']) {
      const grey = await cliInProcess([...base, '--grey', share]);
      expect(grey.code).toBe(1);
      expect(grey.stderr).toContain(`--grey "${share}": expected`);
    }
    const folder = await cliInProcess(['train-codes', '--data', `coco:${path.join(tmp, 'coco')}`, '--out', tmp]);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain('is a folder');
  });

  it('leaves no folder behind when the data is refused, and keeps one that was there', async () => {
    const out = path.join(tmp, 'made', 'deeper', 'codes.json');
    const refused = await cliInProcess(['train-codes', '--data', 'coco:/no/such/folder', '--out', out, ...tiny]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('/no/such/folder is not a folder');
    await expect(fs.stat(path.join(tmp, 'made'))).rejects.toThrow(/ENOENT/);
    await fs.mkdir(path.join(tmp, 'kept'));
    await cliInProcess(['train-codes', '--data', 'coco:/no/such/folder', '--out', path.join(tmp, 'kept', 'new', 'codes.json'), ...tiny]);
    expect(await fs.readdir(path.join(tmp, 'kept'))).toEqual([]);
  });

  it('writes codes that `run --noise classwise --pattern codes` publishes with', async () => {
    const codes = path.join(tmp, 'codes', 'facades.json');
    const trained = await cliInProcess(['train-codes', '--data', `coco:${path.join(tmp, 'coco')}@train`, '--out', codes, '--publish-cell', '4', '--achromatic', '--grey', '0.5', ...tiny]);
    expect(trained.stderr).toContain('backend: wasm');
    expect(trained.stderr).toMatch(/round 1\/1: surrogate [\d.]+, codes [\d.]+; probe clean [\d.]+ \/ random codes [\d.]+ \/ learned [\d.]+/);
    expect(trained.code).toBe(0);
    const doc = JSON.parse(await fs.readFile(codes, 'utf8')) as { format: string; cellSize: number; codes: number[][][][]; provenance: { categories: number[]; history: unknown[]; settings: { achromatic: boolean; greyProb: number } } };
    expect(doc).toMatchObject({ format: 'unseg-class-codes', version: 1, cellSize: 4 });
    expect(doc.codes).toHaveLength(2);
    // --achromatic: each code's R, G and B grids are one grid.
    for (const [r, g, b] of doc.codes) expect([g, b]).toEqual([r, r]);
    expect(doc.provenance.settings.achromatic).toBe(true);
    expect(doc.provenance.settings.greyProb).toBe(0.5);
    expect(doc.provenance.categories).toEqual([1, 2]);
    expect(doc.provenance.history).toHaveLength(1);
    // The codes, and the checkpoint a --resume would continue; no temporary file left.
    expect((await fs.readdir(path.dirname(codes))).sort()).toEqual(['facades.json', 'facades.json.checkpoint']);
    const out = path.join(tmp, 'shards');
    const run = await cliInProcess(['run', 'coco', '--in', path.join(tmp, 'coco'), '--out', out, '--noise', 'classwise', '--pattern', 'codes', '--codes', codes, '--progress', 'none']);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as { counts?: { published?: number } };
    expect(JSON.stringify(manifest)).toContain('learned code (2 codes from');
  });

  it('continues a run with --resume, and refuses to start over a checkpoint or resume from none', async () => {
    const codes = path.join(tmp, 'resume', 'codes.json');
    const args = ['train-codes', '--data', `coco:${path.join(tmp, 'coco')}@train`, '--out', codes, ...tiny];
    const none = await cliInProcess([...args, '--resume']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`--resume: there is no checkpoint at ${codes}.checkpoint`);
    expect((await cliInProcess(args)).code).toBe(0);
    const again = await cliInProcess(args);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`--checkpoint ${codes}.checkpoint holds the checkpoint of an earlier run: pass --resume`);
    const other = await cliInProcess([...args, '--resume', '--rounds', '2', '--step', '0.5']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('belongs to another run (step 0.025, now 0.5)');
    const more = await cliInProcess([...args, '--resume', '--rounds', '2']);
    expect(more.code).toBe(0);
    expect(more.stderr).toContain('resuming after round 1');
    // No --publish-cell: the fixture's 32x24 images (median side 28) at --size 16 make a 2-px cell 3.5 image px.
    expect(more.stderr).toContain('publish cell: 4 px (--cell 2 at 16 px, for images of median side 28 px)');
    expect(more.stderr).not.toContain('round 1/2:');
    expect(more.stderr).toContain('round 2/2:');
    const doc = JSON.parse(await fs.readFile(codes, 'utf8')) as { cellSize: number; provenance: { history: { round: number }[]; resumedAfterRound?: number } };
    expect(doc.cellSize).toBe(4);
    expect(doc.provenance.history.map((h) => h.round)).toEqual([1, 2]);
    expect(doc.provenance.resumedAfterRound).toBe(1);
  });
});
