import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliInProcess } from '../test-helpers/in-process.js';

const sample = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../samples/coco-facades-mini');
let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-preview-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('preview options', () => {
  it.each([
    [['--out', 'p.jpg'], /--out .*p\.jpg: preview writes a PNG; give a file name ending in \.png/],
    [['--width', '100000'], /--width 100000: at most 4096 px per panel/],
    [['--width', '0'], /--width "0": expected a whole number >= 1/],
    [['--seed', 'x'], /--seed "x": expected a whole number >= 0/],
    [['--eps-fg', 'lots'], /--eps-fg "lots": expected a budget/],
  ])('refuses %j before the dataset is read, writing nothing', async (extra, message) => {
    const out = extra[0] === '--out' ? path.join(tmp, extra[1]!) : path.join(tmp, 'p.png');
    const rest = extra[0] === '--out' ? [] : extra;
    // A missing --in shows the option is checked first: the dataset is never reached.
    const r = await cliInProcess(['preview', 'coco', '--in', path.join(tmp, 'no-such-dataset'), '--id', '0', '--out', out, '--noise', 'uniform', ...rest]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it('writes the picture with sound options', async () => {
    const out = path.join(tmp, 'ok', 'p.png');
    const r = await cliInProcess(['preview', 'coco', '--in', sample, '--id', '0', '--out', out, '--noise', 'uniform', '--width', '64']);
    expect(r.code).toBe(0);
    expect((await fs.stat(out)).size).toBeGreaterThan(0);
    await fs.rm(path.join(tmp, 'ok'), { recursive: true });
  });
});
