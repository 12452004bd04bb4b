// Summary per row and architecture, and the markdown table printed at the end of a run.
import { meanStd } from './metrics.mjs';
import { parseRow } from './plan.mjs';

export function summarise(runs) {
  const groups = new Map();
  for (const r of runs) {
    const k = `${r.row}|${r.arch}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const meanOf = (key) => (groups.has(key) ? meanStd(groups.get(key).map((r) => r.miou)).mean : null);
  const out = [];
  for (const [k, rs] of groups) {
    const [row, arch] = k.split('|');
    const m = meanStd(rs.map((r) => r.miou));
    const cleanMean = meanOf(`none|${arch}`);
    // A defense costs accuracy by itself (a net trained on grey images is worse on colour ones),
    // so what a defended copy keeps of the protection is read against clean + the same defense.
    const { defense } = parseRow(row);
    const defendedCleanMean = defense ? meanOf(`none+${defense}|${arch}`) : cleanMean;
    out.push({
      row, arch, seeds: rs.map((r) => r.seed), miou: m, pixelAcc: meanStd(rs.map((r) => r.pixelAcc)),
      ratioToClean: cleanMean ? m.mean / cleanMean : null,
      ratioToSameDefense: defendedCleanMean ? m.mean / defendedCleanMean : null,
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
  const ratio = (v) => (v === null ? '-' : v.toFixed(2));
  const lines = [
    '| row | arch | seeds | mIoU (mean ± sd; min-max) | pixel acc | ratio to clean | ratio to clean + same defense | last-epoch train loss | wall s / run | train res |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of summarise(runs)) {
    const spread = r.miou.n > 1 ? ` ± ${f(r.miou.std)}; ${f(r.miou.min)}-${f(r.miou.max)}` : '';
    lines.push(`| ${r.row} | ${r.arch} | ${r.seeds.join(',')} | ${f(r.miou.mean)}${spread} | ${f(r.pixelAcc.mean)} | ${ratio(r.ratioToClean)} | ${ratio(r.ratioToSameDefense)} | ${r.lastEpochLoss === null ? '-' : f(r.lastEpochLoss.mean)} | ${r.wallSeconds.mean.toFixed(0)} | ${r.trainRes} |`);
  }
  return lines.join('\n');
}
