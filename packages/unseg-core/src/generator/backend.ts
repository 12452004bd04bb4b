import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from '../errors.js';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

let wasmRegistered = false;

/**
 * tfjs-node(-gpu) are optional: they cannot be installed everywhere, so they are looked up at
 * run time; a failed import just means the next backend is tried.
 */
async function tryTensorflow(): Promise<boolean> {
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(name);
      if (await tf.setBackend('tensorflow')) {
        await tf.ready();
        return true;
      }
    } catch {
      // not installed or no native binary for this platform: try the next one
    }
  }
  return false;
}

async function tryWasm(): Promise<boolean> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (!wasmRegistered) {
      // Under Node the .wasm files are not fetched from a CDN: point at the installed package.
      const require = createRequire(import.meta.url);
      const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
      wasm.setWasmPaths(path.join(path.dirname(pkg), 'dist') + path.sep);
      wasmRegistered = true;
    }
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      return true;
    }
  } catch {
    // fall through to cpu
  }
  return false;
}

/**
 * Activates the fastest backend that works here (tfjs-node-gpu, tfjs-node, wasm, cpu) or the
 * one asked for, and returns the name tfjs reports. A forced backend that cannot start is a
 * ConfigError rather than a silent fallback, because timings and numerics differ.
 */
export async function selectBackend(preferred: BackendName = 'auto'): Promise<string> {
  if (preferred !== 'auto' && tf.getBackend() === preferred) return preferred;
  if (preferred === 'tensorflow') {
    if (await tryTensorflow()) return tf.getBackend();
    throw new ConfigError('backend "tensorflow" requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node loads');
  }
  if (preferred === 'wasm') {
    if (await tryWasm()) return tf.getBackend();
    throw new ConfigError('backend "wasm" requested but @tensorflow/tfjs-backend-wasm did not start');
  }
  if (preferred === 'cpu') {
    await tf.setBackend('cpu');
    await tf.ready();
    return tf.getBackend();
  }
  if (await tryTensorflow()) return tf.getBackend();
  if (await tryWasm()) return tf.getBackend();
  await tf.setBackend('cpu');
  await tf.ready();
  return tf.getBackend();
}
