import { unlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { ConfigError } from '../errors.js';
import { checkWorker, workerTag, type WorkerSpec } from './naming.js';

/** The contents of a lock file. */
export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

/** A held lock: on an output folder, or on another path through {@link acquireLockFile}. */
export interface OutputLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Removes the lock file (idempotent). Also done on process exit. */
  release(): Promise<void>;
}

/** The lock file name: `.unseg.lock`, or `.unseg-w{i}of{n}.lock` so the workers of a sharded run can share a folder. */
export function lockFileName(worker?: WorkerSpec): string {
  return `.unseg${workerTag(worker)}.lock`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as { code?: string }).code === 'EPERM';
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.startedAt === 'string') {
      return { pid: v.pid, host: v.host, startedAt: v.startedAt };
    }
  } catch {
    // Unparseable: handled by the caller as a foreign lock.
  }
  return undefined;
}

/**
 * Takes the lock on an output folder: `.unseg.lock` created with O_EXCL, holding pid, host and
 * start time, so that two runs never write the same shards. A lock left by a dead process on
 * this host (kill -9, power loss) is recovered; a live one, or one from another host, fails
 * with a ConfigError that says who holds it and how to clear it. The lock is released by
 * `release()` or when the process exits.
 */
export async function acquireOutputLock(
  outDir: string,
  options: { worker?: WorkerSpec; host?: string; pid?: number; isAlive?: (pid: number) => boolean } = {},
): Promise<OutputLock> {
  checkWorker(options.worker);
  const { worker: _w, ...holder } = options;
  return acquireLockFile(`${outDir}/${lockFileName(options.worker)}`, {
    ...holder,
    subject: `output folder ${outDir}`,
    rule: 'Two runs must not write the same --out.',
  });
}

/**
 * The same lock on any file path, for state that is not an output folder of shards (a training
 * checkpoint that is replaced whole, so the lock cannot live inside it). `subject` names what is
 * locked and `rule` says why in the error a second run gets. The folder holding `path` is made if missing.
 */
export async function acquireLockFile(
  path: string,
  options: { subject: string; rule: string; host?: string; pid?: number; isAlive?: (pid: number) => boolean },
): Promise<OutputLock> {
  await fsp.mkdir(dirname(path), { recursive: true });
  const info: LockInfo = { pid: options.pid ?? process.pid, host: options.host ?? hostname(), startedAt: new Date().toISOString() };
  const isAlive = options.isAlive ?? pidAlive;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await fsp.open(path, 'wx');
      try {
        await h.writeFile(`${JSON.stringify(info)}\n`);
        await h.sync();
      } finally {
        await h.close();
      }
      return holdLock(path, info);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
    const text = await fsp.readFile(path, 'utf8').catch(() => '');
    const held = parseLock(text);
    if (held && held.host === info.host && !isAlive(held.pid) && attempt === 0) {
      // Stale: move it aside under a unique name, then check that what was moved is the stale
      // lock read above and not one a concurrent run just took in its place.
      const aside = `${path}.stale-${info.pid}-${Date.now()}`;
      try {
        await fsp.rename(path, aside);
      } catch {
        continue;
      }
      const moved = await fsp.readFile(aside, 'utf8').catch(() => '');
      if (moved !== text) {
        await fsp.rename(aside, path).catch(() => undefined);
        break;
      }
      await fsp.unlink(aside).catch(() => undefined);
      continue;
    }
    const who = held
      ? `process ${held.pid} on ${held.host} (started ${held.startedAt})`
      : `an unreadable lock file`;
    const hint =
      held && held.host !== info.host
        ? `If that run is no longer running, remove ${path}.`
        : `Wait for it to finish, or stop it; if it is not running, remove ${path}.`;
    throw new ConfigError(`${options.subject} is in use by ${who}. ${options.rule} ${hint}`);
  }
  throw new ConfigError(`${options.subject}: another run took the lock at the same time; retry`);
}

function holdLock(path: string, info: LockInfo): OutputLock {
  let released = false;
  const onExit = (): void => {
    if (released) return;
    released = true;
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  process.once('exit', onExit);
  return {
    path,
    info,
    async release() {
      if (released) return;
      released = true;
      process.removeListener('exit', onExit);
      // Only our own lock: never remove one another run took after ours was cleared by hand.
      const text = await fsp.readFile(path, 'utf8').catch(() => '');
      const held = parseLock(text);
      if (held && held.pid === info.pid && held.startedAt === info.startedAt) await fsp.unlink(path).catch(() => undefined);
    },
  };
}
