import type { DiagnosticRecord, LogRecord } from './trainer.js';

/**
 * Markdown table of a training log at intervals: mean S and G phase losses since the previous
 * row, and the diagnostic at that step (for the model card).
 */
export function summarizeLog(records: readonly LogRecord[], rows = 12): string {
  const diags = records.filter((r): r is DiagnosticRecord => r.kind === 'diagnostic');
  if (diags.length === 0) return '(no diagnostics logged)';
  const pick = new Set<number>();
  for (let i = 0; i < rows; i++) pick.add(Math.round((i * (diags.length - 1)) / Math.max(1, rows - 1)));
  const f = (v: number) => v.toFixed(3);
  const lines = [
    '| step | S loss | G loss | true-mask loss: clean / G / uniform / sign (8/255) | G-target loss: G / uniform (train eps) | G-target loss: G / uniform (8/255) | noise spatial std | abs channel mean | saturated | fg-bg gap |',
    '|---:|---:|---:|---|---|---|---:|---:|---:|---:|',
  ];
  let prevStep = -1;
  for (const i of [...pick].sort((a, b) => a - b)) {
    const d = diags[i]!;
    const steps = records.filter((r) => r.kind === 'step' && r.step > prevStep && r.step < d.step);
    const mean = (ph: string) => {
      const xs = steps.filter((r) => r.kind === 'step' && r.phase === ph).map((r) => (r.kind === 'step' ? r.loss : 0));
      return xs.length ? f(xs.reduce((a, b) => a + b, 0) / xs.length) : '-';
    };
    lines.push(
      `| ${d.step} | ${mean('S')} | ${mean('G')} | ${f(d.trueClean)} / ${f(d.trueG)} / ${f(d.trueUniform)} / ${f(d.trueSign)} | ` +
        `${f(d.targetGTrain)} / ${f(d.targetUniformTrain)} | ${f(d.targetG)} / ${f(d.targetUniform)} | ${f(d.noiseSpatialStd)} | ${f(d.noiseChannelMean)} | ${f(d.noiseSaturated)} | ${f(d.noiseFgBgGap)} |`,
    );
    prevStep = d.step - 1;
  }
  return lines.join('\n');
}
