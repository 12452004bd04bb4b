export type { PublishedObject, PublishedRecord, NoiseStats, FailureRecord } from './types.js';
