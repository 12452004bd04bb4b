#!/usr/bin/env node
// Prints the markdown table of one or more results files, e.g. from runs that went on in
// parallel under different --name (one process per core):
//   node tools/bench-efficacy/table.mjs results/a.json results/b.json [--out results/merged.json]
// Files are merged only when their training recipes agree; a (row, arch, seed) present in
// several files is taken from the first.
import fs from 'node:fs';
import { markdownTable, summarise } from './lib/report.mjs';
import { fail, parseToolArgs } from '../lib/args.mjs';

const RECIPE = ['dataset', 'trainSplit', 'evalSplit', 'epochs', 'size', 'crop', 'batch', 'width', 'lr', 'limit', 'epsFg', 'epsBg'];

const { values, positionals } = parseToolArgs({
  name: 'table',
  usage: `
Prints the markdown table of one or more bench-efficacy results files, merged when their
training recipes agree (a (row, arch, seed) in several files is taken from the first).

usage: node tools/bench-efficacy/table.mjs <results json> [more results json] [--out merged.json]

options:
  --out FILE   also write the merged runs there as one results file [off]
  -h, --help   this text`,
  options: { out: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length === 0) fail('table', 'no results file given (see --help)');
for (const f of positionals) if (!fs.existsSync(f)) fail('table', `${f} not found`);

const files = positionals.map((f) => ({ file: f, data: JSON.parse(fs.readFileSync(f, 'utf8')) }));
const base = files[0].data;
for (const { file, data } of files.slice(1)) {
  const photometric = (c) => c?.photometric ?? true; // files from before the option trained with it
  const differs = RECIPE.filter((k) => JSON.stringify(data.config?.[k]) !== JSON.stringify(base.config?.[k]));
  if (photometric(data.config) !== photometric(base.config)) differs.push('photometric');
  if (differs.length) fail('table', `${file} was trained with another recipe than ${files[0].file} (${differs.join(', ')}): not merged`);
  if (JSON.stringify(data.classNames) !== JSON.stringify(base.classNames)) fail('table', `${file}: other class names than ${files[0].file}`);
}
const seen = new Set();
const runs = [];
for (const { data } of files) {
  for (const r of data.runs) {
    const key = `${r.row}|${r.arch}|${r.seed}`;
    if (seen.has(key)) continue;
    seen.add(key);
    runs.push(r);
  }
}
console.log(markdownTable(runs));
if (values.out) {
  const merged = {
    config: { ...Object.fromEntries(RECIPE.map((k) => [k, base.config?.[k]])), photometric: base.config?.photometric ?? true },
    classNames: base.classNames,
    mergedFrom: positionals,
    runs,
    summary: summarise(runs),
  };
  fs.writeFileSync(values.out, JSON.stringify(merged, null, 1) + '\n');
  console.log(`\nmerged ${runs.length} runs from ${positionals.length} file(s) into ${values.out}`);
}
