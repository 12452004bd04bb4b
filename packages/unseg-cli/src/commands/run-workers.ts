import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@unseg/core';
import { mergeManifestCommand } from './merge-manifest.js';

/** The job runners' variables that `--shard-index`/`--shard-count` default from (worker.ts). */
const RUNNER_VARIABLES = ['JOB_COMPLETION_INDEX', 'UNSEG_SHARD_COUNT', 'AWS_BATCH_JOB_ARRAY_INDEX', 'AWS_BATCH_JOB_ARRAY_SIZE', 'CLOUD_RUN_TASK_INDEX', 'CLOUD_RUN_TASK_COUNT'];

/** The lines a run prints before its first image and after its last (run.ts), the same in every worker but its slot. */
const HEADER = /^(unseg: |noise: |worker \d+ of \d+ |output: |warning: --encode jpeg)/;

/** `--workers n|auto` -> n; auto is the machine's available parallelism. */
export function parseWorkers(text: string): number {
  if (text === 'auto') return os.availableParallelism();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--workers ${text}: expected a whole number >= 1 or auto`);
  return n;
}

/**
 * The worker's arguments: the parent's `run` arguments without the options the parent owns
 * (--workers, --progress), plus its slot and JSON progress for the parent to read.
 */
export function workerArgs(runArgs: readonly string[], index: number, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < runArgs.length; i++) {
    const a = runArgs[i]!;
    if (a === '--workers' || a === '--progress') {
      i++;
      continue;
    }
    if (a.startsWith('--workers=') || a.startsWith('--progress=')) continue;
    out.push(a);
  }
  return [...out, '--shard-index', String(index), '--shard-count', String(count), '--progress', 'json'];
}

/**
 * Refuses an output folder that another layout began: its shards would be written again under
 * other names, and the merge would then find positions twice.
 */
async function checkLayout(out: string, count: number): Promise<void> {
  const files = await fs.readdir(out).catch(() => [] as string[]);
  const counts = new Set<number>();
  let single = false;
  for (const f of files) {
    const worker = /-w\d+of(\d+)\.(?:parquet|arrow|json)$/.exec(f);
    if (worker) counts.add(Number(worker[1]));
    else if (/^[^.].*-\d{5}\.(?:parquet|arrow)$/.test(f)) single = true;
  }
  const other = [...counts].find((c) => c !== count);
  if (other !== undefined) throw new ConfigError(`${out} was begun by a run of ${other} workers: rerun with --workers ${other} to resume it, or use another --out`);
  if (single) throw new ConfigError(`${out} was begun by a single-process run: rerun without --workers to resume it, or use another --out`);
}

interface WorkerExit {
  index: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `unseg-pipeline run ... --workers n`: n processes of this CLI on this machine, each
 * `--shard-index i --shard-count n` into the one --out folder, then `merge-manifest` in place.
 * One process fills about two cores (sharp's threads, one JavaScript thread, a single-threaded
 * wasm generator), so on a larger machine this is how one command uses them all; the shard
 * assignment, resume and merge are the job-runner path's own.
 */
export async function runWorkersCommand(runArgs: readonly string[], count: number, o: { out: string; progress: string }): Promise<number> {
  const present = RUNNER_VARIABLES.filter((v) => process.env[v] !== undefined);
  if (runArgs.some((a) => /^--shard-(index|count)(=|$)/.test(a)) || present.length > 0) {
    throw new ConfigError(
      `--workers starts its own shard workers and cannot be one of a job runner's (${present.length > 0 ? `${present.join(', ')} set` : '--shard-index/--shard-count given'}): drop --workers, or the runner's slot`,
    );
  }
  const out = path.resolve(o.out);
  await checkLayout(out, count);
  const bin = fileURLToPath(new URL('../bin.js', import.meta.url));
  const env = { ...process.env };
  for (const v of RUNNER_VARIABLES) delete env[v];
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`unseg: ${count} local workers (--shard-index 0..${count - 1} --shard-count ${count}) into ${out}, merged at the end`);

  // The parent's node flags (a larger heap, say) carry over, but not a debugger's: every worker
  // would ask for the same inspector port.
  const nodeFlags = process.execArgv.filter((f) => !/^--(inspect|debug)/.test(f));
  const progress = aggregateProgress(o.progress, count);
  const children: ChildProcess[] = [];
  const exits = await new Promise<WorkerExit[]>((resolve, reject) => {
    const done: WorkerExit[] = [];
    for (let index = 0; index < count; index++) {
      // Own process groups: a terminal's Ctrl-C reaches the parent alone, which passes it on
      // once, so that each worker finishes its shard in flight instead of stopping at once.
      const child = spawn(process.execPath, [...nodeFlags, bin, ...workerArgs(runArgs, index, count)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
        detached: true,
      });
      children.push(child);
      lines(child.stdout!, (line) => progress.onLine(index, line));
      lines(child.stderr!, (line) => {
        // Every worker opens with the same header; worker 0's says it once for all.
        if (index === 0 || !HEADER.test(line)) log(`[worker ${index}] ${line}`);
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        done.push({ index, code, signal });
        if (done.length === count) resolve(done.sort((a, b) => a.index - b.index));
      });
    }
    const forward = (signal: NodeJS.Signals) => () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
    };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const off = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    };
    Promise.allSettled(children.map((c) => new Promise((r) => c.on('close', r)))).then(off, off);
  });
  progress.end();

  const interrupted = exits.filter((e) => e.code === 130 || e.signal !== null);
  const broken = exits.filter((e) => e.signal === null && e.code !== 0 && e.code !== 2 && e.code !== 130);
  for (const e of broken) log(`worker ${e.index} failed (exit ${e.code}): see its lines above`);
  if (broken.length > 0) return 1;
  if (interrupted.length > 0) {
    log(`interrupted: worker(s) ${interrupted.map((e) => e.index).join(', ')} stopped; rerun the same command to resume`);
    return 130;
  }
  const merged = await mergeManifestCommand([out], { out });
  return Math.max(merged, ...exits.map((e) => e.code ?? 1));
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
  stream.on('end', () => buffer && onLine(buffer));
}

/** The workers' JSON progress, as the parent's --progress asks: one bar, JSON lines with the worker, or nothing. */
function aggregateProgress(kind: string, count: number): { onLine: (worker: number, line: string) => void; end: () => void } {
  const bar = kind === 'bar' || (kind === 'auto' && Boolean(process.stderr.isTTY));
  let published = 0;
  let failed = 0;
  let last = 0;
  const started = Date.now();
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const rate = published / Math.max(1e-3, (now - started) / 1000);
    process.stderr.write(`\r${count} workers: ${published} images, ${failed} failed, ${rate.toFixed(1)} img/s `);
  };
  return {
    onLine(worker, line) {
      if (kind === 'none') return;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        process.stderr.write(`[worker ${worker}] ${line}\n`);
        return;
      }
      if (!bar) {
        process.stdout.write(`${JSON.stringify({ ...event, worker })}\n`);
        return;
      }
      if (event.event === 'published') published++;
      else if (event.event === 'failed') failed++;
      else return;
      draw();
    },
    end() {
      if (bar) {
        draw(true);
        process.stderr.write('\n');
      }
    },
  };
}
