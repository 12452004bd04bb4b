#!/usr/bin/env node
// Ready-to-publish check for every workspace package: publint (package.json vs files),
// @arethetypeswrong/cli (types resolve for node16 ESM and bundlers), and `npm pack --dry-run`
// (the tarball has dist/ and no tests or fixtures). Run after `npm run build`. Exit 1 on any problem.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseToolArgs } from './lib/args.mjs';

parseToolArgs({
  name: 'check-packages',
  usage: `
Checks that every workspace package is ready to publish: npm pack --dry-run (dist/ in, no
tests, fixtures or src/), publint --strict and attw (esm-only). Run after \`npm run build\`; exit 1 on any problem.

usage: node tools/check-packages.mjs

options:
  -h, --help   this text`,
});

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dirs = ['packages', 'examples']
  .flatMap((d) => readdirSync(path.join(repo, d)).map((n) => path.join(repo, d, n)))
  .filter((d) => existsSync(path.join(d, 'package.json')) && existsSync(path.join(d, 'tsconfig.build.json')));
const bin = (name) => path.join(repo, 'node_modules', '.bin', name);
const FORBIDDEN = [/\.test\.[cm]?[jt]s$/, /\.test\.d\.[cm]?ts(\.map)?$/, /(^|\/)test-fixtures\//, /(^|\/)test-helpers\//, /(^|\/)src\//, /(^|\/)tsconfig[^/]*\.json$/, /(^|\/)jest\.config/];

let failed = 0;
const problem = (pkg, msg) => {
  failed++;
  console.log(`  FAIL ${pkg}: ${msg}`);
};

function run(cmd, args, cwd) {
  try {
    return { ok: true, out: execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const name = pkg.name;
  console.log(`${name} (${path.relative(repo, dir)})`);
  const pack = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], dir);
  if (!pack.ok) {
    problem(name, `npm pack failed: ${pack.out.slice(0, 500)}`);
    continue;
  }
  const files = JSON.parse(pack.out.slice(pack.out.indexOf('[')))[0].files.map((f) => f.path);
  if (!files.some((f) => f.startsWith('dist/') && f.endsWith('index.js'))) problem(name, 'tarball has no dist/**/index.js (build first)');
  for (const f of files) if (FORBIDDEN.some((re) => re.test(f))) problem(name, `tarball contains ${f}`);
  console.log(`  pack: ${files.length} files`);

  const lint = run(bin('publint'), ['run', dir, '--strict'], repo);
  const lintOut = lint.out.trim();
  if (!lint.ok || /warning|error|suggestion/i.test(lintOut.replace(/All good!/, ''))) problem(name, `publint:\n${lintOut}`);
  else console.log('  publint: all good');

  // --pack packs the package itself; node16 (ESM) and bundler are the resolutions these ESM-only packages support.
  const attw = run(bin('attw'), ['--pack', dir, '--profile', 'esm-only', '--format', 'ascii'], repo);
  if (!attw.ok) problem(name, `attw:\n${attw.out.trim()}`);
  else console.log('  attw: types resolve (esm-only profile)');
}
console.log(failed === 0 ? `\n${dirs.length} packages ready to publish` : `\n${failed} problem(s)`);
process.exit(failed === 0 ? 0 : 1);
