export { verifyShards, formatVerifyReport } from './verify.js';
export type { VerifyOptions, VerifyReport, VerifyProblem, VerifyShardRow } from './verify.js';
