module.exports = { ...require('../../jest.preset.cjs'), displayName: 'unseg-plugin-cityscapes' };
