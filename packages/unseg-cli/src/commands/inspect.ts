import { readShardSummary } from '@unseg/core';
import { checkShardFolder } from '../shard-folder.js';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** `unseg-pipeline inspect <dir>`: what a shard folder holds, read from its stats and manifests. */
export async function inspectCommand(dir: string, options: { json?: boolean }): Promise<number> {
  await checkShardFolder(dir);
  const summary = await readShardSummary(dir);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return summary.problems.length > 0 ? 2 : 0;
  }
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`${dir}: ${summary.totals.shards} shards, ${summary.totals.rows} rows, ${summary.totals.failures} failures, ${mb(summary.totals.bytes)}`);
  out();
  out('split          shards     rows  failures      size');
  for (const [split, c] of Object.entries(summary.splits)) {
    out(`${split.padEnd(12)} ${String(c.shards).padStart(8)} ${String(c.rows).padStart(8)} ${String(c.failures).padStart(9)} ${mb(c.bytes).padStart(9)}`);
  }
  const n = summary.noiseSummary;
  out();
  out(`noise: ${JSON.stringify(summary.noise)}`);
  out(`measured on published pixels: max |delta| fg ${n.maxAbsFg ?? '-'}/255, bg ${n.maxAbsBg ?? '-'}/255, mean |delta| ${n.meanAbs?.toFixed(3) ?? '-'}, min PSNR ${n.minPsnr?.toFixed(2) ?? '-'} dB`);
  out();
  out(`columns: ${summary.schema.columns.map((c) => `${c.name}: ${c.type}`).join(', ')}`);
  if (summary.failures.length > 0) {
    out();
    out(`failures (${summary.failures.length}):`);
    for (const f of summary.failures.slice(0, 50)) out(`  ${f.file}: ${f.reason}`);
    if (summary.failures.length > 50) out(`  ... ${summary.failures.length - 50} more in manifest.json`);
  }
  if (summary.uncommitted.length > 0) out(`\nuncommitted (ignored; a killed or running job): ${summary.uncommitted.join(', ')}`);
  for (const p of summary.problems) out(`problem: ${p}`);
  return summary.problems.length > 0 ? 2 : 0;
}
