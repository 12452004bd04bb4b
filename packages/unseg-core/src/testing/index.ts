/**
 * @unseg/core/testing: the plugin test harness. Run it against a folder of fixtures to check a
 * dataset plugin against the plugin contract; see docs/plugins.md.
 */
export { checkPlugin, formatFindings, copyFixture, PLUGIN_CHECKS } from './check.js';
export type { CheckPluginOptions, PluginCheck, PluginExpectations, PluginFinding } from './check.js';
export { describePluginConformance } from './conformance.js';
export type { ConformanceFixture, ConformanceOptions, TestFramework } from './conformance.js';
export { collectSamples, okSamples, sampleErrors } from './collect.js';
export { tempDir, writeJson, findSharedData } from './fixtures.js';
export { compareExport, exportRoundTrip, protectFixture } from './export-round-trip.js';
export type { CompareExportOptions, ExportRoundTrip, ExportRoundTripOptions, ProtectedFixture } from './export-round-trip.js';
