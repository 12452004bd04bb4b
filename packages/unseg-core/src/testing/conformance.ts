import path from 'node:path';
import { PLUGIN_CHECKS, checkPlugin, formatFindings, type CheckPluginOptions, type PluginCheck, type PluginFinding } from './check.js';

/** The part of a test framework's API this module uses: Jest, Vitest (globals) and Mocha fit. */
export interface TestFramework {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>, timeout?: number): void;
}

/** One fixture folder and what it holds; see {@link CheckPluginOptions}. */
export type ConformanceFixture = CheckPluginOptions & {
  /** The test group's title (default: the folder's name). */
  readonly name?: string;
};

export interface ConformanceOptions {
  /** The test functions; default: the global `describe` and `it`. */
  readonly framework?: TestFramework;
  /** Per-test timeout in ms (default 120000: the first test waits for the whole check). */
  readonly timeout?: number;
}

const TITLES: Record<PluginCheck, string> = {
  contract: 'declares name, semver version and this contract version',
  detect: 'detect() is true on the fixture and false on an empty or missing folder',
  open: 'open() accepts the fixture',
  splits: 'splits() gives the expected splits',
  determinism: 'reads in a deterministic order (two reads, same samples)',
  'unique-ids': 'sample ids are unique per split, object ids per sample',
  samples: 'yields the expected samples with positive integer sizes',
  masks: "every mask decodes at the sample's size",
  categories: "objects' categories are among categories()",
  images: "image headers have the sample's size",
  errors: 'yields no SampleError on the clean fixture and never throws instead of yielding one',
  'bad-input': 'a deleted or truncated file yields a SampleError naming it',
  'path-safety': 'reads nothing outside the root (paths and symbolic links) unless followSymlinks',
};

function globalFramework(): TestFramework {
  const g = globalThis as unknown as Partial<TestFramework>;
  if (typeof g.describe !== 'function' || typeof g.it !== 'function') {
    throw new Error('describePluginConformance needs a test framework: run it under Jest, Vitest (globals) or Mocha, or pass options.framework');
  }
  return { describe: g.describe.bind(globalThis), it: g.it.bind(globalThis) };
}

/**
 * Registers one test group per fixture, with one test per check of {@link checkPlugin}, so that
 * a failure says which rule is broken and lists the findings. The check runs once per fixture;
 * its tests share the result.
 *
 *     describePluginConformance(myPlugin, [{ root: 'src/test-fixtures/mini', expect: { splits: ['val'] } }]);
 */
export function describePluginConformance(plugin: unknown, fixtures: readonly ConformanceFixture[], options: ConformanceOptions = {}): void {
  const { describe, it } = options.framework ?? globalFramework();
  const timeout = options.timeout ?? 120_000;
  const name = (plugin as { name?: unknown } | null)?.name;
  for (const fixture of fixtures) {
    let result: Promise<PluginFinding[]> | undefined;
    const findings = (): Promise<PluginFinding[]> => (result ??= checkPlugin(plugin, fixture));
    describe(`plugin ${typeof name === 'string' ? name : '?'} conformance on ${fixture.name ?? path.basename(fixture.root)}`, () => {
      for (const check of PLUGIN_CHECKS) {
        if (!(fixture.mutations ?? true) && check === 'bad-input') continue;
        it(
          `${check}: ${TITLES[check]}`,
          async () => {
            const mine = (await findings()).filter((f) => f.check === check);
            if (mine.length > 0) throw new Error(`${mine.length} finding${mine.length === 1 ? '' : 's'}:\n${formatFindings(mine)}`);
          },
          timeout,
        );
      }
    });
  }
}
