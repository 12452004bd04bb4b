// Summary per row and architecture, and the markdown table printed at the end of a run.
import { meanStd } from './metrics.mjs';

export function summarise(runs) {
  const groups = new Map();
  for (const r of runs) {
    const k = `${r.row}|${r.arch}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const out = [];
  for (const [k, rs] of groups) {
    const [row, arch] = k.split('|');
    const clean = groups.get(`none|${arch}`);
    const m = meanStd(rs.map((r) => r.miou));
    const cleanMean = clean ? meanStd(clean.map((r) => r.miou)).mean : null;
    out.push({
      row, arch, seeds: rs.map((r) => r.seed), miou: m, pixelAcc: meanStd(rs.map((r) => r.pixelAcc)),
      ratioToClean: cleanMean ? m.mean / cleanMean : null,
      wallSeconds: meanStd(rs.map((r) => r.wallSeconds)), trainRes: rs[0].trainRes,
      // Mean loss over the last epoch. An unlearnable copy should be *easier* to fit than the
      // clean one (the noise is the shortcut); runs from before it was recorded have none.
      lastEpochLoss: rs.every((r) => Number.isFinite(r.lastEpochLoss)) ? meanStd(rs.map((r) => r.lastEpochLoss)) : null,
    });
  }
  return out;
}

export function markdownTable(runs) {
  const f = (v) => v.toFixed(3);
  const lines = [
    '| row | arch | seeds | mIoU (mean ± sd; min-max) | pixel acc | ratio to clean | last-epoch train loss | wall s / run | train res |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of summarise(runs)) {
    const spread = r.miou.n > 1 ? ` ± ${f(r.miou.std)}; ${f(r.miou.min)}-${f(r.miou.max)}` : '';
    lines.push(`| ${r.row} | ${r.arch} | ${r.seeds.join(',')} | ${f(r.miou.mean)}${spread} | ${f(r.pixelAcc.mean)} | ${r.ratioToClean === null ? '-' : r.ratioToClean.toFixed(2)} | ${r.lastEpochLoss === null ? '-' : f(r.lastEpochLoss.mean)} | ${r.wallSeconds.mean.toFixed(0)} | ${r.trainRes} |`);
  }
  return lines.join('\n');
}
