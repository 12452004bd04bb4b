// One tfjs instance for the whole benchmark: the full @tensorflow/tfjs (gradients only register
// with it) on the wasm backend, resolved from packages/unseg-core where it is a dependency.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const coreRequire = createRequire(path.join(repoRoot, 'packages/unseg-core/package.json'));

const tf = await import(coreRequire.resolve('@tensorflow/tfjs'));
export { tf };

let ready = false;
/** Starts the wasm backend (or the one named), returns its name. */
export async function initBackend(name = 'wasm') {
  if (ready) return tf.getBackend();
  if (name === 'wasm') {
    const wasm = await import(coreRequire.resolve('@tensorflow/tfjs-backend-wasm'));
    const pkg = coreRequire.resolve('@tensorflow/tfjs-backend-wasm/package.json');
    wasm.setWasmPaths(path.join(path.dirname(pkg), 'dist') + path.sep);
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend ${name} did not start`);
  await tf.ready();
  ready = true;
  return tf.getBackend();
}
