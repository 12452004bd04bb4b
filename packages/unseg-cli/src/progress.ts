import type { PipelineListener, RunSummary } from '@unseg/core';

/** A one-line progress bar redrawn in place; for an interactive terminal. */
/** One bar per split: counters restart when the next split starts. */
export function terminalProgress(stream: NodeJS.WriteStream): PipelineListener {
  let done = 0;
  let failed = 0;
  let split = '';
  let total: number | undefined;
  let started = Date.now();
  let last = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const rate = done / Math.max(1e-3, (now - started) / 1000);
    const width = 24;
    const filled = total ? Math.min(width, Math.round((done / total) * width)) : 0;
    const bar = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}` : `${done}`;
    stream.write(`\r${split} ${bar} images, ${failed} failed, ${rate.toFixed(1)} img/s `);
  };
  return {
    onStart: (info) => {
      split = info.split;
      total = info.total;
      done = 0;
      failed = 0;
      started = Date.now();
      draw(true);
    },
    onPublished: () => {
      done++;
      draw();
    },
    onFailed: () => {
      done++;
      failed++;
      draw();
    },
    onEnd: () => {
      draw(true);
      stream.write('\n');
    },
  };
}

/** One JSON object per line and per event: for logs, CI and other programs. */
export function jsonLinesProgress(write: (line: string) => void): PipelineListener {
  const emit = (event: string, data: Record<string, unknown>) =>
    write(JSON.stringify({ time: new Date().toISOString(), event, ...data }));
  return {
    onStart: (info) => emit('start', { ...info }),
    onPublished: (r) =>
      emit('published', { split: r.split, position: r.position, id: r.id, maxAbsFg: r.noise.maxAbsFg, maxAbsBg: r.noise.maxAbsBg, psnr: r.noise.psnr }),
    onFailed: (f) => emit('failed', { ...f }),
    onShardWritten: (info) => emit('shard', { ...info }),
    onEnd: (s: RunSummary) => emit('end', { ...s }),
  };
}
