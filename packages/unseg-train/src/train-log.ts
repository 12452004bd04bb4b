import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { nodeShardFs, writeFileAtomic } from '@unseg/core';
import type { LogRecord } from './trainer.js';

/**
 * The log is appended before each checkpoint is written, so after a crash it can hold the
 * steps of an epoch that the checkpoint does not include (and a last line cut in half). A
 * resumed run would log those steps again: cut the log back to what the checkpoint holds.
 * Returns how many step records remain, which should equal `step`.
 */
export async function truncateLog(file: string, step: number): Promise<{ steps: number; dropped: number }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { steps: 0, dropped: 0 };
    throw error;
  }
  const kept: string[] = [];
  let dropped = 0;
  let steps = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const record = parse(line);
    if (record && belongsToCheckpoint(record, step)) {
      kept.push(line + '\n');
      if (record.kind === 'step') steps++;
    } else dropped++;
  }
  if (dropped > 0) {
    await writeFileAtomic(nodeShardFs, path.dirname(file), path.basename(file), new TextEncoder().encode(kept.join('')));
  }
  return { steps, dropped };
}

/**
 * Step k is record step k; the diagnostic that follows step k carries step k + 1 (the counter
 * after the step), so a checkpoint taken after `step` steps includes diagnostics up to `step`.
 */
function belongsToCheckpoint(record: LogRecord, step: number): boolean {
  return record.kind === 'step' ? record.step < step : record.step <= step;
}

function parse(line: string): LogRecord | undefined {
  try {
    const r = JSON.parse(line) as LogRecord;
    return typeof r === 'object' && r !== null && typeof r.step === 'number' ? r : undefined;
  } catch {
    return undefined;
  }
}
