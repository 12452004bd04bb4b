#!/usr/bin/env node
// Prints the markdown table of a results file: node tools/bench-efficacy/table.mjs results/coco-facades.json
import fs from 'node:fs';
import { markdownTable } from './lib/report.mjs';

const file = process.argv[2];
if (!file) throw new Error('usage: table.mjs <results json>');
console.log(markdownTable(JSON.parse(fs.readFileSync(file, 'utf8')).runs));
