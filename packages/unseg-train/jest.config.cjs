module.exports = { ...require('../../jest.preset.cjs'), displayName: '@unseg/train' };
