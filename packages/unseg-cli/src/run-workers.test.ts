import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { parseWorkers, workerArgs } from './commands/run-workers.js';
import { buildProgram, main } from './program.js';

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  const err: string[] = [];
  const e = process.stderr.write.bind(process.stderr);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(['node', 'unseg-pipeline', ...args]), stderr: err.join('') };
  } finally {
    process.stderr.write = e;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('run --workers', () => {
  it("gives each worker the parent's arguments with one worker, JSON progress and its slot last (commander keeps the last value)", async () => {
    const args = ['run', 'coco', '--in', 'd', '--workers', '3', '--progress=bar', '--out', 'o', '--seed', '7'];
    const worker = workerArgs(args, 1, 3);
    expect(worker).toEqual([...args, '--workers', '1', '--progress', 'json', '--shard-index', '1', '--shard-count', '3']);
    // What commander makes of them: the worker's own values win.
    let seen: Record<string, unknown> = {};
    const program = buildProgram(() => undefined);
    const run = program.commands.find((c) => c.name() === 'run')!;
    run.action((_plugin: string, options: Record<string, unknown>) => {
      seen = options;
    });
    await program.parseAsync(['node', 'unseg-pipeline', ...worker]);
    expect(seen).toMatchObject({ workers: '1', progress: 'json', shardIndex: '1', shardCount: '3', out: 'o', seed: '7' });
  });

  it('reads a count, or auto (one per CPU, at most one per free GiB), and refuses anything else', () => {
    expect(parseWorkers('4')).toBe(4);
    expect(parseWorkers('auto', { cpus: 16, freeBytes: 64 * 1024 ** 3 })).toBe(16);
    expect(parseWorkers('auto', { cpus: 16, freeBytes: 5.5 * 1024 ** 3 })).toBe(5);
    expect(parseWorkers('auto', { cpus: 2, freeBytes: 0.5 * 1024 ** 3 })).toBe(1);
    for (const bad of ['0', 'two', '1e3', '0x4', ' 2', '2.5']) expect(() => parseWorkers(bad)).toThrow(/expected a whole number >= 1 or auto/);
  });

  it("refuses to start workers inside a job runner's slot", async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-workers-'));
    try {
      const root = path.resolve('../../samples/coco-facades-mini');
      const base = ['run', 'coco', '--in', root, '--out', path.join(tmp, 'o'), '--noise', 'uniform', '--workers', '2'];
      const flag = await cli([...base, '--shard-index', '0', '--shard-count', '2']);
      expect(flag.code).toBe(1);
      expect(flag.stderr).toMatch(/--workers starts its own shard workers .*--shard-index\/--shard-count given/);
      const env = await cli(base, { JOB_COMPLETION_INDEX: '0' });
      expect(env.code).toBe(1);
      expect(env.stderr).toMatch(/JOB_COMPLETION_INDEX set/);
      expect(await fs.readdir(tmp)).toEqual([]);
      // A folder a single process began: its shards would be written again under worker names.
      const begun = path.join(tmp, 'single');
      await fs.mkdir(begun);
      await fs.writeFile(path.join(begun, 'train-00000.parquet'), '');
      const single = await cli([...base.slice(0, 5), begun, ...base.slice(6)]);
      expect(single.code).toBe(1);
      expect(single.stderr).toMatch(/was written by a single process \(shards train-00000\.parquet\): rerun as a single process \(without --workers/);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  });
});
