// Real faults against the built CLI (`dist/bin.js`; the test target depends on build): SIGKILL
// at random moments then a rerun, SIGINT, a second run on a locked --out, and a full disk (a
// tiny tmpfs, when this process may mount one). The rows are compared with an uninterrupted
// run through DuckDB, the way a user reads them. The long kill loop is tools/chaos-kill.mjs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { main } from './program.js';
import { writeCleanCoco } from './test-helpers/coco-fixtures.js';

const BIN = path.resolve('dist/bin.js');
const IMAGES = 16;
const SHARD = 2;
/**
 * The --workers tests signal the parent once a worker's first shard is in: with 16 tiny images
 * two workers sometimes finished every shard (or the whole run) before the signal arrived, so
 * they run on a dataset four times larger.
 */
const MANY = 64;

let tmp: string;
let root: string;
let expected: Row[];
let rootMany: string;
let expectedMany: Row[];

interface Row {
  split: string;
  position: number;
  id: string;
  md5: string;
}

/** Rows of `dir/*.parquet`, or of one file when `dir` is a .parquet file. */
async function rows(dir: string): Promise<Row[]> {
  const glob = dir.endsWith('.parquet') ? dir : `${dir}/*.parquet`;
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(
      `select split, position::integer as position, id, md5(image.bytes) as md5 from read_parquet('${glob}') order by split, position`,
    );
    return r.getRowObjectsJson() as unknown as Row[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** Files a glob reader sees (no dot files): every one must be a whole, committed shard. */
async function visibleProblems(dir: string): Promise<string[]> {
  const problems: string[] = [];
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const n of names.filter((f) => f.endsWith('.parquet'))) {
    // A shard without its stats file may be visible for a moment after a kill (renamed, not yet
    // committed); it must still be whole, since it was fsynced before the rename.
    try {
      await rows(path.join(dir, n));
    } catch (err) {
      problems.push(`${n}: unreadable: ${(err as Error).message}`);
    }
  }
  return problems;
}

interface Child {
  proc: ChildProcess;
  exit: Promise<number | null>;
  events: { event: string }[];
  stderr: () => string;
}

function start(out: string, extra: string[] = [], data = root): Child {
  const proc = spawn(
    process.execPath,
    [BIN, 'run', 'coco', '--in', data, '--out', out, '--noise', 'uniform', '--progress', 'json', '--shard-size', String(SHARD), '--concurrency', '2', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: { event: string }[] = [];
  let buf = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        events.push(JSON.parse(line) as { event: string });
      } catch {
        // not an event line
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on('close', (code, signal) => resolve(signal ? null : code)));
  return { proc, exit, events, stderr: () => err };
}

async function until(child: Child, pred: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  const t0 = Date.now();
  let done = false;
  void child.exit.then(() => (done = true));
  while (!pred()) {
    if (done || Date.now() - t0 > timeoutMs) return pred();
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

const count = (child: Child, event: string) => child.events.filter((e) => e.event === event).length;

/** Starts a run, sends `signal` once its first shard is written, and waits for it to end. */
async function stopAfterFirstShard(out: string, extra: string[], signal: NodeJS.Signals, data = root): Promise<{ child: Child; code: number | null }> {
  const child = start(out, extra, data);
  expect(await until(child, () => count(child, 'shard') >= 1)).toBe(true);
  child.proc.kill(signal);
  return { child, code: await child.exit };
}

/** The shards a glob reader sees in `dir`, each asserted to be committed (its stats file beside it). */
async function committedShards(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir);
  const shards = names.filter((f) => f.endsWith('.parquet'));
  for (const s of shards) expect(names).toContain(`${s}.stats.json`);
  return shards;
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the CLI first (nx run @unseg/cli:build)`);
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'unseg-crash-'));
  root = await writeCleanCoco(path.join(tmp, 'coco'), IMAGES);
  const ref = start(path.join(tmp, 'reference'));
  expect(await ref.exit).toBe(0);
  expected = await rows(path.join(tmp, 'reference'));
  expect(expected).toHaveLength(IMAGES);
  rootMany = await writeCleanCoco(path.join(tmp, 'coco-many'), MANY);
  const refMany = start(path.join(tmp, 'reference-many'), [], rootMany);
  expect(await refMany.exit).toBe(0);
  expectedMany = await rows(path.join(tmp, 'reference-many'));
  expect(expectedMany).toHaveLength(MANY);
}, 180_000);

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('crashes', () => {
  it('SIGKILL at random moments, then a rerun: the same rows as an uninterrupted run, none lost or duplicated', async () => {
    const out = path.join(tmp, 'killed');
    // Seeded, so a failure can be replayed; the moments differ: after 0..IMAGES-1 published events.
    let seed = 12345;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let kills = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const child = start(out);
      const after = Math.floor(next() * IMAGES);
      await until(child, () => count(child, 'published') >= after);
      // A random extra delay spreads kills over encode, write, rename and stats moments.
      await new Promise((r) => setTimeout(r, Math.floor(next() * 20)));
      if (child.proc.kill('SIGKILL')) kills++;
      await child.exit;
      expect(await visibleProblems(out)).toEqual([]);
    }
    expect(kills).toBeGreaterThan(0);
    const last = start(out);
    expect(await last.exit).toBe(0);
    const got = await rows(out);
    expect(got).toEqual(expected);
    // No temp files or orphan stats left behind once the run has completed.
    const left = (await fs.readdir(out)).filter((f) => f.endsWith('.tmp') || (f.endsWith('.stats.json') && !existsSync(path.join(out, f.replace(/\.stats\.json$/, '')))));
    expect(left).toEqual([]);
  }, 180_000);

  it('SIGINT stops after the shard in flight (exit 130, only whole shards), and a rerun completes', async () => {
    const out = path.join(tmp, 'interrupted');
    const { child, code } = await stopAfterFirstShard(out, [], 'SIGINT');
    expect(code).toBe(130);
    expect(child.stderr()).toMatch(/interrupted: finishing the shard in flight/);
    // Every visible shard is committed and whole, and the run did stop early.
    expect((await committedShards(out)).length).toBeLessThan(IMAGES / SHARD);
    const partial = await rows(out);
    expect(partial).toEqual(expected.slice(0, partial.length));
    expect(partial.length % SHARD).toBe(0);
    const rerun = start(out);
    expect(await rerun.exit).toBe(0);
    expect(await rows(out)).toEqual(expected);
  }, 180_000);

  it('--workers: SIGINT to the parent stops every worker after its shard (exit 130); a rerun resumes and merges; another count is refused', async () => {
    const out = path.join(tmp, 'interrupted-workers');
    const { child, code } = await stopAfterFirstShard(out, ['--workers', '2'], 'SIGINT', rootMany);
    expect(code).toBe(130);
    expect(child.stderr()).toMatch(/interrupted: worker\(s\) .*rerun the same command to resume/);
    expect((await committedShards(out)).length).toBeLessThan(MANY / SHARD);
    expect(await fs.readdir(out)).not.toContain('manifest.json');
    const other = start(out, ['--workers', '3'], rootMany);
    expect(await other.exit).toBe(1);
    // Which workers had committed a shard when the signal came depends on the machine's load:
    // the message names those that did.
    expect(other.stderr()).toMatch(/was written by 2 workers \(shards train-\d{5}-w[01]of2\.parquet.*\): rerun with --workers 2/);
    const rerun = start(out, ['--workers', '2'], rootMany);
    expect(await rerun.exit).toBe(0);
    expect(await rows(out)).toEqual(expectedMany);
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8')) as { workers: unknown; totals: { rows: number } };
    expect(manifest.workers).toEqual({ count: 2, present: [0, 1], missing: [] });
    expect(manifest.totals.rows).toBe(MANY);
  }, 180_000);

  it('--workers: SIGTERM (a job runner stopping the parent) ends the workers after their shard; SIGKILL of the parent leaves no worker running', async () => {
    const out = path.join(tmp, 'terminated-workers');
    const { child, code } = await stopAfterFirstShard(out, ['--workers', '2'], 'SIGTERM', rootMany);
    expect(code).toBe(130);
    expect(child.stderr()).toMatch(/SIGTERM: finishing the shard in flight/);
    await committedShards(out);

    // The parent killed outright: its workers see their stdin pipe end and stop after their shard.
    await fs.rm(out, { recursive: true, force: true });
    await stopAfterFirstShard(out, ['--workers', '2'], 'SIGKILL', rootMany);
    if (existsSync('/proc/self/cmdline')) {
      const running = async () => {
        const found: string[] = [];
        for (const pid of (await fs.readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
          const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          if (cmd.includes(out) && cmd.includes('--shard-index')) found.push(pid);
        }
        return found;
      };
      const t0 = Date.now();
      while ((await running()).length > 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
      expect(await running()).toEqual([]);
    }
    // They stopped early, not ran on to the end unsupervised.
    expect((await committedShards(out)).length).toBeLessThan(MANY / SHARD);
    const rerun = start(out, ['--workers', '2'], rootMany);
    expect(await rerun.exit).toBe(0);
    expect(await rows(out)).toEqual(expectedMany);
  }, 180_000);

  it('a closed stdout (`| head`) does not stop the run: it says so once and completes', async () => {
    const out = path.join(tmp, 'stdout-closed');
    const proc = spawn(
      process.execPath,
      [BIN, 'run', 'coco', '--in', root, '--out', out, '--noise', 'uniform', '--progress', 'json', '--shard-size', String(SHARD)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // Like `head -1`: read the first line, then close the pipe.
    proc.stdout!.once('data', () => proc.stdout!.destroy());
    const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
    expect(stderr).toMatch(/stdout was closed; going on without it/);
    expect(stderr.match(/stdout was closed/g)).toHaveLength(1);
    expect(code).toBe(0);
    expect(await rows(out)).toEqual(expected);
  }, 180_000);

  it('a second run on the same --out while the first holds the lock fails with a clear message; the first is unharmed', async () => {
    const out = path.join(tmp, 'locked');
    const first = start(out);
    expect(await until(first, () => count(first, 'start') >= 1)).toBe(true);
    // Frozen while holding the lock, so the second run surely meets it.
    first.proc.kill('SIGSTOP');
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(['node', 'unseg-pipeline', 'run', 'coco', '--in', root, '--out', out, '--noise', 'uniform', '--progress', 'none', '--shard-size', String(SHARD)]);
    } finally {
      process.stderr.write = write;
    }
    first.proc.kill('SIGCONT');
    expect(code).toBe(1);
    expect(err.join('')).toMatch(new RegExp(`output folder .* is in use by process ${first.proc.pid} on .*Two runs must not write the same --out`));
    expect(await first.exit).toBe(0);
    expect(await rows(out)).toEqual(expected);
  }, 180_000);

  const canMount = process.getuid?.() === 0 && process.platform === 'linux';
  (canMount ? it : it.skip)('a full disk (tiny tmpfs) fails the shard, not the shards already written; a rerun with space completes', async () => {
    const out = path.join(tmp, 'tmpfs');
    await fs.mkdir(out);
    // Room for a few shards of ~7 KB (plus stats and manifest), not for 8.
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=40k', 'tmpfs', out]);
    if (mounted.status !== 0) {
      // Root in a container without CAP_SYS_ADMIN: nothing to test here, say so.
      console.warn(`tmpfs not mountable, full-disk test not run: ${mounted.stderr.toString()}`);
      return;
    }
    try {
      const child = start(out);
      const code = await child.exit;
      expect(child.stderr()).toMatch(/ENOSPC|no space left/i);
      expect(code).toBe(2);
      // What was committed is intact: sha256 matches its stats, rows match the reference.
      const names = await fs.readdir(out);
      const committed = names.filter((f) => f.endsWith('.parquet') && names.includes(`${f}.stats.json`));
      expect(committed.length).toBeGreaterThan(0);
      expect(committed.length).toBeLessThan(IMAGES / SHARD);
      expect(names.filter((f) => f.endsWith('.parquet'))).toEqual(committed);
      const got = await rows(out);
      expect(got).toEqual(expected.filter((r) => got.some((g) => g.position === r.position)));
      expect(spawnSync('mount', ['-o', 'remount,size=4m', out]).status).toBe(0);
      const rerun = start(out);
      expect(await rerun.exit).toBe(0);
      expect(await rows(out)).toEqual(expected);
    } finally {
      spawnSync('umount', [out]);
    }
  }, 180_000);
});
