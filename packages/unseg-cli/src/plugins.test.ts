import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliInProcess } from './test-helpers/in-process.js';

let tmp: string;
let data: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-plugins-'));
  data = path.join(tmp, 'data');
  await fs.mkdir(data);
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A plugin module whose open() (or its reader's samples()) throws, as a bug in a plugin would. */
async function brokenPlugin(where: 'open' | 'samples'): Promise<string> {
  const file = path.join(tmp, `broken-${where}.mjs`);
  const fail = "throw new TypeError(\"Cannot read properties of undefined (reading 'width')\")";
  await fs.writeFile(
    file,
    `export default {
      name: 'broken', version: '1.0.0', contract: 1,
      detect: async () => true,
      open: async (root) => {
        ${where === 'open' ? fail : ''}
        return {
          root,
          splits: async () => ['train'],
          categories: async () => [{ id: 1, name: 'thing', isThing: true }],
          async *samples() { ${where === 'samples' ? fail : ''} },
        };
      },
    };\n`,
  );
  return file;
}

describe('an error thrown by a plugin', () => {
  it('from open() is said to be the plugin\'s, naming it, its module and the folder, without a stack', async () => {
    const plugin = await brokenPlugin('open');
    const r = await cliInProcess(['run', plugin, '--in', data, '--out', path.join(tmp, 'out'), '--noise', 'uniform', '--progress', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`unseg-pipeline: plugin "broken" (${plugin}) failed while opening ${data}: Cannot read properties of undefined (reading 'width')\n`);
  });

  it('from samples() is said to be the plugin\'s, naming the split', async () => {
    const plugin = await brokenPlugin('samples');
    const r = await cliInProcess(['run', plugin, '--in', data, '--out', path.join(tmp, 'out'), '--noise', 'uniform', '--progress', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`unseg-pipeline: plugin "broken" (${plugin}) failed while reading split "train" of ${data}: Cannot read properties of undefined (reading 'width')\n`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('a plugin module whose factory misbehaves, or whose export hook throws', () => {
  const factoryModule = async (body: string): Promise<string> => {
    const file = path.join(tmp, `factory-${Math.random().toString(36).slice(2)}.mjs`);
    await fs.writeFile(file, `export default ${body};\n`);
    return file;
  };

  it('names the module when its factory throws, without a stack', async () => {
    const plugin = await factoryModule("() => { throw new Error('no config file'); }");
    const r = await cliInProcess(['run', plugin, '--in', data, '--out', path.join(tmp, 'out'), '--noise', 'uniform', '--progress', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`unseg-pipeline: plugin module ${plugin}: its factory threw: no config file\n`);
  });

  it('says that an async factory returned a Promise, instead of listing every member as missing', async () => {
    const plugin = await factoryModule("async () => ({ name: 'late', version: '1.0.0', contract: 1 })");
    const r = await cliInProcess(['run', plugin, '--in', data, '--out', path.join(tmp, 'out'), '--noise', 'uniform', '--progress', 'none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/its factory returned a Promise; export the plugin object, or a factory that returns it synchronously/);
  });

  it("attributes an export hook's own error to the plugin", async () => {
    const { attributeFailures, PluginFailure } = await import('./plugins.js');
    const plugin = attributeFailures(
      {
        name: 'exporter', version: '1.0.0', contract: 1,
        detect: async () => true,
        open: async () => { throw new Error('unused'); },
        export: async () => { throw new TypeError("Cannot read properties of undefined (reading 'file')"); },
      },
      'pkg',
    );
    const job = { split: 'val' } as unknown as Parameters<NonNullable<typeof plugin.export>>[0];
    const error = await plugin.export!(job).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginFailure);
    expect((error as Error).message).toBe(`plugin "exporter" (pkg) failed while exporting split "val": Cannot read properties of undefined (reading 'file')`);
  });
});

describe("a plugin's mask() that throws", () => {
  it('fails that sample only, and the failure names the plugin, the object and the sample', async () => {
    const file = path.join(tmp, 'bad-mask.mjs');
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEElEQVR4nGPgEpGDIwbiOABgdAPB7GxpHwAAAABJRU5ErkJggg==';
    await fs.writeFile(
      file,
      `const png = new Uint8Array(Buffer.from('${png}', 'base64'));
      const sample = (id, mask) => ({
        id, split: 'train', image: { kind: 'bytes', bytes: png, name: id + '.png' }, width: 4, height: 4,
        objects: [{ id: 'o1', categoryId: 1, category: 'thing', isThing: true, isCrowd: false, bbox: [0, 0, 4, 4], annotation: null, mask }],
      });
      export default {
        name: 'maskbug', version: '1.0.0', contract: 1,
        detect: async () => true,
        open: async (root) => ({
          root,
          splits: async () => ['train'],
          categories: async () => [{ id: 1, name: 'thing', isThing: true }],
          async *samples() {
            yield sample('good', async () => ({ height: 4, width: 4, counts: Uint32Array.from([0, 16]) }));
            yield sample('bad', async () => { throw new TypeError("Cannot read properties of undefined (reading 'counts')"); });
            // Left to the engine's own checks, unwrapped: a frozen sample is published, null fails alone.
            const frozen = sample('frozen', async () => ({ height: 4, width: 4, counts: Uint32Array.from([0, 16]) }));
            Object.freeze(frozen.objects[0]);
            Object.freeze(frozen.objects);
            yield Object.freeze(frozen);
            yield null;
          },
        }),
      };\n`,
    );
    const out = path.join(tmp, 'out');
    const r = await cliInProcess(['run', file, '--in', data, '--out', out, '--noise', 'uniform', '--progress', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/done: 2 images published, 2 failed/);
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as { failures: { id: string; code: string; reason: string }[] };
    expect(manifest.failures).toEqual([
      expect.objectContaining({
        id: 'bad',
        code: 'PLUGIN_FAILED',
        reason: `plugin "maskbug" (${file}) failed while reading the mask of object o1 of sample bad: Cannot read properties of undefined (reading 'counts')`,
      }),
      expect.objectContaining({ code: 'SAMPLE_MALFORMED' }),
    ]);
  });
});
