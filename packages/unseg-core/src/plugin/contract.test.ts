import { ConfigError } from '../errors.js';
import { assertPluginContract } from './contract.js';
import { PLUGIN_CONTRACT_VERSION } from './types.js';

const valid = {
  name: 'x',
  version: '1.0.0',
  contract: PLUGIN_CONTRACT_VERSION,
  detect: async () => true,
  open: async () => {
    throw new Error('unused');
  },
};

describe('assertPluginContract', () => {
  it('accepts a plugin of this contract', () => {
    expect(assertPluginContract(valid, 'test').name).toBe('x');
  });
  it('names the versions when the contract differs', () => {
    expect(() => assertPluginContract({ ...valid, contract: PLUGIN_CONTRACT_VERSION + 1 }, 'pkg-y')).toThrow(
      new RegExp(`contract ${PLUGIN_CONTRACT_VERSION + 1}.*contract ${PLUGIN_CONTRACT_VERSION}`),
    );
  });
  it('says that contract must be the number, not a string that prints the same', () => {
    const message = () => assertPluginContract({ ...valid, contract: String(PLUGIN_CONTRACT_VERSION) }, './x.mjs');
    expect(message).toThrow(ConfigError);
    expect(message).toThrow(/plugin "x" \(\.\/x\.mjs\): contract must be a number, the PLUGIN_CONTRACT_VERSION constant .*\(got string "1"\)/);
  });
  it('refuses a name outside letters, digits, ".", "_", "-", naming it', () => {
    for (const name of ['bad name!', '', '-x', '.x', 'a/b', 7]) {
      expect(() => assertPluginContract({ ...valid, name }, './x.mjs')).toThrow(/\.\/x\.mjs: plugin name .* is not allowed: use letters, digits/);
    }
    for (const name of ['coco-panoptic', 'my_format.v2', 'X1']) expect(assertPluginContract({ ...valid, name }, 'ok').name).toBe(name);
  });
  it('lists missing members', () => {
    expect(() => assertPluginContract({ name: 'z' }, 'pkg-z')).toThrow(ConfigError);
    expect(() => assertPluginContract({ name: 'z' }, 'pkg-z')).toThrow(/missing version, contract, detect, open/);
  });
});
