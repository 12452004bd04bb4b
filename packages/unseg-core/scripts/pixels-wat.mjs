// Shared by build-wasm.mjs and the freshness test: one definition of how pixels.wat becomes
// the committed module.
import wabtInit from 'wabt';

/** The WebAssembly binary of the WAT source (SIMD enabled). */
export async function compilePixelsWat(source) {
  const wabt = await wabtInit();
  const module = wabt.parseWat('pixels.wat', source, { simd: true });
  try {
    module.validate();
    return Uint8Array.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

/** The TypeScript module that carries the binary. */
export function renderPixelsModule(binary) {
  const base64 = Buffer.from(binary).toString('base64');
  const lines = base64.match(/.{1,96}/g) ?? [];
  return [
    '// Generated from pixels.wat by scripts/build-wasm.mjs (npm run build:wasm -w @unseg/core). Do not edit.',
    'export const PIXELS_WASM_BASE64 =',
    lines.map((line) => `  '${line}'`).join(' +\n') + ';',
    '',
  ].join('\n');
}
