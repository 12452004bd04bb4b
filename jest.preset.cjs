// Shared Jest settings: TypeScript sources run through SWC as native ESM (Node's
// --experimental-vm-modules), workspace packages resolve to their sources so tests
// never depend on a stale build.
const path = require('node:path');
const root = __dirname;
module.exports = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'es6' } }],
  },
  moduleNameMapper: {
    '^@unseg/core$': path.join(root, 'packages/unseg-core/src/index.ts'),
    '^@unseg/core/testing$': path.join(root, 'packages/unseg-core/src/testing/index.ts'),
    '^@unseg/core/(.*)$': path.join(root, 'packages/unseg-core/src/$1/index.ts'),
    '^@unseg/plugin-(coco|ade20k|sa1b)$': path.join(root, 'packages/plugin-$1/src/index.ts'),
    '^@unseg/train$': path.join(root, 'packages/unseg-train/src/index.ts'),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/src/**/*.test.ts'],
  testTimeout: 60000,
};
