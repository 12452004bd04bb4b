/**
 * Export: a run's shards written back in the dataset's own layout, through the plugin's
 * optional `export` hook, into a folder that nothing from a shard can escape.
 */
export type { ExportObject, ExportRow, ExportTarget, ExportJob, ExportSplitResult, DatasetExportHook } from './types.js';
export { ExportPathError, checkRelativePath, createExportTarget } from './target.js';
export { readShardRows } from './rows.js';
export { exportShards, manifestPluginName, type ExportShardsOptions, type ExportReport } from './export.js';
export { renderPreview, type PreviewOptions, type Preview } from './preview.js';
