/**
 * One registry server per storage directory: the in-process digest locks that keep commits and
 * deletes apart only work when no other process writes the same storage. `acquireStorageLock`
 * writes our pid to `<dir>/registry.lock`; a lock left by a process that is gone (kill -9) is
 * taken over, a live one is refused.
 *
 * @example
 * const lock = await acquireStorageLock('/var/lib/wharf/registry');
 * try { ... } finally { await lock.release(); }
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, isErrno } from '../errors/index.ts';

export interface StorageLock {
  readonly path: string;
  release(): Promise<void>;
}

export async function acquireStorageLock(dir: string): Promise<StorageLock> {
  const path = join(dir, 'registry.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
      await handle.close();
      return {
        path,
        release: async () => {
          const owner = await readPid(path);
          if (owner === process.pid) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    const owner = await readPid(path);
    if (owner !== undefined && owner !== process.pid && isProcessAlive(owner)) {
      throw new ConflictError(
        `Cannot use registry storage ${dir}: another registry server (pid ${owner}) is serving it`,
      );
    }
    await rm(path, { force: true });
  }
  throw new ConflictError(`Cannot lock registry storage ${dir}: the lock keeps changing hands`);
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists on this machine (EPERM: it exists, not ours to signal). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
}
