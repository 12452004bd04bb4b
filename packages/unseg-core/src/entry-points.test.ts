// The root entry must not load TensorFlow.js: readers, baselines and shard tools never need it,
// and its start-up cost (about a second of CPU) would be paid by every CLI call and worker.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = path.dirname(fileURLToPath(import.meta.url));

/** Modules reached from `entry` by static, non-type-only imports and re-exports. */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    const re = /^\s*(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm;
    for (const m of text.matchAll(re)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

test('the root entry reaches no TensorFlow.js module; the generator subpath does', () => {
  const root = staticGraph(path.join(src, 'index.ts'));
  expect(root.files.size).toBeGreaterThan(20); // the walk really follows the module graph
  expect(root.packages).toContain('sharp');
  expect([...root.packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
  const generator = staticGraph(path.join(src, 'generator', 'index.ts'));
  expect(generator.packages).toContain('@tensorflow/tfjs');
});
