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
  it('lists missing members', () => {
    expect(() => assertPluginContract({ name: 'z' }, 'pkg-z')).toThrow(ConfigError);
    expect(() => assertPluginContract({ name: 'z' }, 'pkg-z')).toThrow(/missing version, contract, detect, open/);
  });
});
