import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import {
  ConfigError,
  PLUGIN_CONTRACT_VERSION,
  SampleError,
  isRecord,
  readJsonLimited,
  rleEncode,
  resolveInsideRoot,
  type DatasetPlugin,
  type DatasetReader,
  type Sample,
} from '../index.js';
import { checkPlugin, describePluginConformance, formatFindings, type PluginFinding } from './index.js';

/**
 * A toy format: `toy.json` lists each split's images as {id, file, width, height}; each image's
 * single object is its top-left quarter. `flaws` turns one contract rule off at a time, so that
 * each check is seen to fail for the fault it is meant to catch.
 */
type Flaw = 'shuffled' | 'unsafe-paths' | 'throws' | 'wrong-mask-size' | 'detect-always' | 'duplicate-ids' | 'silent-skip' | 'crowd-as-number';

function toyPlugin(flaw?: Flaw): DatasetPlugin {
  return {
    name: 'toy',
    version: '1.0.0',
    contract: PLUGIN_CONTRACT_VERSION,
    async detect(root) {
      if (flaw === 'detect-always') return true;
      return fs.stat(path.join(root, 'toy.json')).then((s) => s.isFile(), () => false);
    },
    async open(root, options = {}): Promise<DatasetReader> {
      const index = path.join(root, 'toy.json');
      const safe = await resolveInsideRoot(root, root, 'toy.json', options.followSymlinks ?? false);
      if (!safe.ok && flaw !== 'unsafe-paths') throw new ConfigError(`${index}: ${safe.reason}`);
      let json: unknown;
      try {
        json = await readJsonLimited(index);
      } catch (err) {
        throw new ConfigError(`${index}: ${(err as Error).message}`);
      }
      const splits = isRecord(json) ? json : {};
      return {
        root,
        splits: async () => Object.keys(splits),
        categories: async () => [{ id: 1, name: 'corner', isThing: true }],
        async *samples(split): AsyncIterable<Sample | SampleError> {
          let entries = [...((splits[split] as { id: string; file: string; width: number; height: number }[]) ?? [])];
          if (flaw === 'shuffled') entries = entries.sort(() => Math.random() - 0.5);
          for (const e of entries) {
            let file = path.join(root, e.file);
            if (flaw !== 'unsafe-paths') {
              const r = await resolveInsideRoot(root, root, e.file, options.followSymlinks ?? false);
              if (!r.ok) {
                if (flaw === 'silent-skip') continue;
                if (flaw === 'throws') throw new Error(r.reason);
                yield new SampleError(path.join(root, e.file), r.reason, { sampleId: e.id });
                continue;
              }
              file = r.path;
            } else {
              // Reads the file the way a careless plugin would, following any link.
              await fs.readFile(file);
            }
            const { width, height } = e;
            const mw = flaw === 'wrong-mask-size' ? width + 1 : width;
            yield {
              id: flaw === 'duplicate-ids' ? 'same' : e.id,
              split,
              image: { kind: 'file', path: file },
              width,
              height,
              objects: [
                {
                  id: '1',
                  categoryId: 1,
                  category: 'corner',
                  isThing: true,
                  isCrowd: (flaw === 'crowd-as-number' ? 0 : false) as boolean,
                  annotation: e,
                  mask: async () => {
                    const data = new Uint8Array(mw * height);
                    for (let y = 0; y < height / 2; y++) for (let x = 0; x < mw / 2; x++) data[y * mw + x] = 1;
                    return rleEncode({ width: mw, height, data });
                  },
                },
              ],
            };
          }
        },
      };
    },
  };
}

let fixture: string;
beforeAll(async () => {
  fixture = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'toy-')), 'toy');
  await fs.mkdir(path.join(fixture, 'img'), { recursive: true });
  const entries = [];
  for (const [i, id] of ['a', 'b', 'c', 'd', 'e', 'f'].entries()) {
    const width = 8 + i;
    await sharp({ create: { width, height: 6, channels: 3, background: { r: 10 * i, g: 0, b: 0 } } }).png().toFile(path.join(fixture, 'img', `${id}.png`));
    entries.push({ id, file: `img/${id}.png`, width, height: 6 });
  }
  await fs.writeFile(path.join(fixture, 'toy.json'), JSON.stringify({ val: entries }));
});

const checksOf = (findings: readonly PluginFinding[]): string[] => [...new Set(findings.map((f) => f.check))].sort();

describe('checkPlugin', () => {
  it('finds nothing wrong with a plugin that keeps the contract', async () => {
    const findings = await checkPlugin(toyPlugin(), { root: fixture, expect: { splits: ['val'], minSamples: 6, sampleIds: { val: ['a', 'b', 'c', 'd', 'e', 'f'] } } });
    expect(formatFindings(findings)).toBe('');
  });

  it('reports expectations the fixture does not meet', async () => {
    const findings = await checkPlugin(toyPlugin(), { root: fixture, mutations: false, expect: { splits: ['train'], minSamples: { val: 7 } } });
    expect(checksOf(findings)).toEqual(['samples', 'splits']);
    expect(formatFindings(findings)).toMatch(/\[samples\] \(split val\) 6 samples, expected at least 7/);
  });

  it.each<[Flaw, string[]]>([
    ['shuffled', ['determinism']],
    ['unsafe-paths', ['bad-input', 'path-safety']],
    ['throws', ['bad-input']],
    ['wrong-mask-size', ['masks']],
    ['detect-always', ['detect']],
    ['duplicate-ids', ['unique-ids']],
    ['silent-skip', ['bad-input']],
    ['crowd-as-number', ['samples']],
  ])('catches a plugin that is %s', async (flaw, checks) => {
    const findings = await checkPlugin(toyPlugin(flaw), { root: fixture });
    expect(checksOf(findings)).toEqual(checks);
  });

  it('stops at the contract when the plugin is not one of this version', async () => {
    const findings = await checkPlugin({ ...toyPlugin(), contract: PLUGIN_CONTRACT_VERSION + 1 }, { root: fixture });
    expect(findings).toHaveLength(1);
    expect(findings[0]?.check).toBe('contract');
    expect(findings[0]?.message).toMatch(/update @unseg\/core/);
  });

  it('leaves the fixture untouched', async () => {
    const before = await fs.readdir(fixture, { recursive: true });
    await checkPlugin(toyPlugin('unsafe-paths'), { root: fixture });
    expect(await fs.readdir(fixture, { recursive: true })).toEqual(before);
  });
});

describe('describePluginConformance', () => {
  it('registers one test per check, which fails with the findings', async () => {
    const tests: { name: string; fn: () => Promise<void> }[] = [];
    const groups: string[] = [];
    describePluginConformance(toyPlugin('wrong-mask-size'), [{ root: fixture, name: 'toy fixture', mutations: false }], {
      framework: { describe: (name, fn) => (groups.push(name), fn()), it: (name, fn) => void tests.push({ name, fn }) },
    });
    expect(groups).toEqual(['plugin toy conformance on toy fixture']);
    expect(tests.map((t) => t.name.split(':')[0])).toEqual([
      'contract', 'detect', 'open', 'splits', 'determinism', 'unique-ids', 'samples', 'masks', 'categories', 'images', 'errors', 'path-safety',
    ]);
    const outcomes = await Promise.all(tests.map((t) => t.fn().then(() => 'ok', (e: Error) => e.message)));
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([expect.stringMatching(/^6 findings:\n\[masks\] \(split val, sample a\) object 1: mask is 9x6, the sample is 8x6/)]);
  });
});
