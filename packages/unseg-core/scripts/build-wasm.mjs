#!/usr/bin/env node
// Compiles src/pixels/pixels.wat into src/pixels/pixels-wasm.ts (the binary as base64), so the
// package needs no WebAssembly toolchain at install or run time. `--check` exits 1 when the
// committed module differs from what the source compiles to (pixels-wasm.test.ts runs the same
// comparison).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compilePixelsWat, renderPixelsModule } from './pixels-wat.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const watPath = `${root}src/pixels/pixels.wat`;
const outPath = `${root}src/pixels/pixels-wasm.ts`;
const binary = await compilePixelsWat(readFileSync(watPath, 'utf8'));
const text = renderPixelsModule(binary);
if (process.argv.includes('--check')) {
  const current = readFileSync(outPath, 'utf8');
  if (current !== text) {
    console.error(`${outPath} is stale: run npm run build:wasm -w @unseg/core`);
    process.exit(1);
  }
  console.log(`${outPath} matches pixels.wat`);
} else {
  writeFileSync(outPath, text);
  console.log(`wrote ${outPath} (${binary.length} bytes of WebAssembly)`);
}
