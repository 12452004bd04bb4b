import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backend.js';

describe('selectBackend', () => {
  it('activates and names the backend asked for', async () => {
    expect(await selectBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await selectBackend('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    await selectBackend('cpu');
  });
  it('auto picks a working backend and reports it', async () => {
    const name = await selectBackend('auto');
    expect(['tensorflow', 'wasm', 'cpu']).toContain(name);
    expect(tf.getBackend()).toBe(name);
    await selectBackend('cpu');
  });
});
