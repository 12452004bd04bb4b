// Row specs and run order. Pure, tested.
// Kept here (not imported from data.mjs) so the plan loads without sharp or DuckDB.
export const DEFENSE_NAMES = ['jpeg75', 'gray', 'blur1'];

/**
 * `noise[:pattern][~cell-size][@generatorDir][+defense]`: e.g. `none`, `sign`, `unseg+jpeg75`,
 * `unseg@packages/unseg-core/models/no-lm` (an ablation's generator), `classwise:codes@out/codes.json`
 * (a class-codes file), `classwise~4096`
 * (the classwise pattern with 4096-px cells: one flat colour offset per class),
 * `classwise:grating~32` (per-class stripes 32 px wide).
 */
export function parseRow(spec) {
  const [main, defense, extra] = spec.split('+');
  if (extra !== undefined) throw new Error(`row ${spec}: at most one defense`);
  if (defense && !DEFENSE_NAMES.includes(defense)) {
    throw new Error(`row ${spec}: unknown defense ${defense} (jpeg75, gray, blur1)`);
  }
  const [sourcePart, generator] = main.split('@');
  const [sourceAndPattern, cell] = sourcePart.split('~');
  const [source, pattern] = sourceAndPattern.split(':');
  if (!source) throw new Error(`row ${spec}: no noise source`);
  if (pattern !== undefined && !/^[a-z]+$/.test(pattern)) throw new Error(`row ${spec}: pattern ${pattern} is not a word`);
  if (cell !== undefined && !/^[1-9][0-9]*$/.test(cell)) throw new Error(`row ${spec}: cell size ${cell} is not a positive integer`);
  // For pattern codes the part after @ is the class-codes file (`classwise:codes@out/codes.json`).
  const codes = pattern === 'codes' ? generator : undefined;
  if (pattern === 'codes' && !codes) throw new Error(`row ${spec}: pattern codes needs its file, e.g. classwise:codes@out/codes.json`);
  let dirName = generator ? `${source}-${generator.replace(/[^A-Za-z0-9._-]+/g, '_')}` : source;
  if (pattern) dirName += `-${pattern}`;
  if (cell) dirName += `-cell${cell}`;
  return { label: spec, source, generator: codes ? undefined : generator || undefined, codes, pattern: pattern || undefined, cellSize: cell ? Number(cell) : undefined, defense: defense || undefined, dirName, key: spec };
}

/**
 * First every row with the first seed (so a partial run still has a whole table), then the
 * extra seeds for the seeded rows; rows stay grouped so a train set is loaded once per pass.
 */
export function planRuns(rows, archs, seeds, seededRows) {
  const out = [];
  seeds.forEach((seed, i) => {
    for (const row of rows) {
      if (i > 0 && !seededRows.includes(row.source === 'none' ? 'none' : row.label)) continue;
      for (const arch of archs) out.push({ row, arch, seed });
    }
  });
  return out;
}
