import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, readAllShardStats } from '@unseg/core';
import { checkOutputLayout } from '../layout.js';
import { checkOutputFolder } from '../out-path.js';
import { SUPERVISED_VARIABLE } from '../worker.js';
import { mergeManifestCommand } from './merge-manifest.js';

/** The job runners' variables that `--shard-index`/`--shard-count` default from (worker.ts). */
const RUNNER_VARIABLES = ['JOB_COMPLETION_INDEX', 'UNSEG_SHARD_COUNT', 'AWS_BATCH_JOB_ARRAY_INDEX', 'AWS_BATCH_JOB_ARRAY_SIZE', 'CLOUD_RUN_TASK_INDEX', 'CLOUD_RUN_TASK_COUNT'];

/** The lines a run prints before its first image and after its last (run.ts), the same in every worker but its slot. */
const HEADER = /^(unseg: |noise: |worker \d+ of \d+ |output: |warning: --encode jpeg)/;

const GIB = 1024 ** 3;

/**
 * `--workers n|auto` -> n. auto: one worker per CPU (on the 16-core host of the throughput
 * table every row was fastest with 16), but no more than one per free GiB of memory, since each
 * worker holds its own generator.
 */
export function parseWorkers(text: string, machine?: { cpus: number; freeBytes: number }): number {
  if (text === 'auto') {
    const { cpus, freeBytes } = machine ?? { cpus: os.availableParallelism(), freeBytes: os.freemem() };
    return Math.max(1, Math.min(cpus, Math.floor(freeBytes / GIB)));
  }
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new ConfigError(`--workers ${text}: expected a whole number >= 1 or auto`);
  return Number(text);
}

/**
 * A worker's arguments: the parent's own, with its slot, JSON progress for the parent to read,
 * and --workers 1 appended (commander keeps the last value of an option, so nothing given
 * before needs to be found and removed).
 */
export function workerArgs(runArgs: readonly string[], index: number, count: number): string[] {
  return [...runArgs, '--workers', '1', '--progress', 'json', '--shard-index', String(index), '--shard-count', String(count)];
}

interface WorkerExit {
  index: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
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
  await checkOutputFolder(out, '--out');
  await checkOutputLayout(out, { kind: 'workers', count });
  const bin = fileURLToPath(new URL('../bin.js', import.meta.url));
  const env: NodeJS.ProcessEnv = { ...process.env, [SUPERVISED_VARIABLE]: '1' };
  for (const v of RUNNER_VARIABLES) delete env[v];
  // The parent's node flags (a larger heap, say) carry over, but not a debugger's: every worker
  // would ask for the same inspector port.
  const nodeFlags = process.execArgv.filter((f) => !/^--(inspect|debug)/.test(f));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`unseg: ${count} local workers (--shard-index 0..${count - 1} --shard-count ${count}) into ${out}, merged at the end`);

  const progress = aggregateProgress(o.progress, count);
  const children: ChildProcess[] = [];
  let forwarded: NodeJS.Signals | undefined;
  const forward = (signal: NodeJS.Signals) => () => {
    forwarded = signal;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };
  const handlers = { SIGINT: forward('SIGINT'), SIGTERM: forward('SIGTERM'), SIGHUP: forward('SIGHUP') } as const;
  // Installed before the first worker starts, so that none can outlive a Ctrl-C unasked.
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  let exits: WorkerExit[];
  try {
    exits = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        new Promise<WorkerExit>((resolve) => {
          let child: ChildProcess;
          try {
            // Own process groups: a terminal's Ctrl-C reaches the parent alone, which passes it
            // on once, so that each worker finishes its shard in flight instead of stopping at
            // once. stdin is a pipe that the worker watches: if the parent dies, it stops too.
            child = spawn(process.execPath, [...nodeFlags, bin, ...workerArgs(runArgs, index, count)], {
              stdio: ['pipe', 'pipe', 'pipe'],
              env,
              detached: true,
            });
          } catch (error) {
            resolve({ index, code: null, signal: null, error: error as Error });
            forward('SIGINT')();
            return;
          }
          children.push(child);
          let failure: Error | undefined;
          lines(child.stdout!, (line) => progress.onLine(index, line));
          lines(child.stderr!, (line) => {
            // Every worker opens with the same header; worker 0's says it once for all.
            if (index === 0 || !HEADER.test(line)) log(`[worker ${index}] ${line}`);
          });
          // A worker that could not start: 'close' still follows, with the error kept for the report.
          child.on('error', (error) => (failure = error));
          child.on('close', (code, signal) => resolve({ index, code, signal, error: failure }));
        }),
      ),
    );
  } finally {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
    for (const c of children) c.stdin?.destroy();
    progress.end();
  }

  // Stopped at our asking (exit 130 after a forwarded signal, or killed by the one we passed on)
  // is an interruption that a rerun resumes; any other end but 0 or 2 is a failure.
  const asked = (e: WorkerExit) => e.code === 130 || (forwarded !== undefined && e.signal === forwarded);
  const interrupted = exits.filter((e) => e.code !== 0 && e.code !== 2 && asked(e));
  const broken = exits.filter((e) => e.code !== 0 && e.code !== 2 && !asked(e));
  for (const e of broken) {
    log(`worker ${e.index} failed (${e.error ? e.error.message : e.signal ? `killed by ${e.signal}` : `exit ${e.code}`}): see its lines above`);
  }
  if (broken.length > 0) return 1;
  if (interrupted.length > 0) {
    log(`interrupted: worker(s) ${interrupted.map((e) => e.index).join(', ')} stopped; rerun the same command to resume`);
    return 130;
  }
  const worst = Math.max(...exits.map((e) => e.code ?? 1));
  if ((await readAllShardStats(out)).length === 0) {
    log('no shards were written (nothing to protect), so there is nothing to merge');
    return worst;
  }
  const merged = await mergeManifestCommand([out], { out, write: (text) => process.stderr.write(text) });
  return Math.max(merged, worst);
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
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch {
        event = undefined;
      }
      if (typeof event !== 'object' || event === null) {
        process.stderr.write(`[worker ${worker}] ${line}\n`);
        return;
      }
      if (!bar) {
        process.stdout.write(`${JSON.stringify({ ...event, worker })}\n`);
        return;
      }
      const name = (event as { event?: unknown }).event;
      if (name === 'published') published++;
      else if (name === 'failed') failed++;
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
