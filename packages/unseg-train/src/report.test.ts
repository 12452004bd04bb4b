import { summarizeLog } from './report.js';
import type { LogRecord } from './trainer.js';

const diag = (step: number, trueG: number): LogRecord => ({
  kind: 'diagnostic', step, epoch: 0, trueClean: 1, trueG, trueUniform: 1.1, trueSign: 1.2, targetGTrain: 2, targetUniformTrain: 2.1,
  targetG: 3, targetUniform: 3.1, noiseSpatialStd: 0.5, noiseChannelMean: 0.1, noiseSaturated: 0.2, noiseFgBgGap: 0.3,
});

describe('summarizeLog', () => {
  it('one row per picked diagnostic with the phase losses averaged since the previous row', () => {
    const log: LogRecord[] = [
      { kind: 'step', step: 0, epoch: 0, phase: 'S', loss: 1, ms: 1 },
      { kind: 'step', step: 1, epoch: 0, phase: 'G', loss: 4, ms: 1 },
      diag(2, 0.5),
      { kind: 'step', step: 2, epoch: 0, phase: 'S', loss: 3, ms: 1 },
      { kind: 'step', step: 3, epoch: 0, phase: 'S', loss: 5, ms: 1 },
      diag(4, 0.25),
    ];
    const lines = summarizeLog(log, 2).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^\| 2 \| 1\.000 \| 4\.000 \| 1\.000 \/ 0\.500 /);
    expect(lines[3]).toMatch(/^\| 4 \| 4\.000 \| - \| 1\.000 \/ 0\.250 /);
  });
  it('says so when nothing was logged', () => {
    expect(summarizeLog([])).toMatch(/no diagnostics/);
  });
});
