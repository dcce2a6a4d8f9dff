/**
 * The daemon's pid file: written at start (refusing to start when a live process already holds
 * it), removed at shutdown. A file left by a daemon that died (`kill -9`) names a dead pid and is
 * taken over.
 *
 * @example
 * const pidFile = await acquirePidFile('/run/wharf/wharf.pid');
 * // ...
 * await pidFile.release();
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FailedPreconditionError, isErrno } from '../errors/index.ts';

export interface PidFile {
  path: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
}

export async function acquirePidFile(path: string): Promise<PidFile> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return {
        path,
        release: async () => {
          // only remove our own: a second daemon may have taken a stale file over
          const content = await readFile(path, 'utf8').catch(() => '');
          if (Number(content.trim()) === process.pid) await rm(path, { force: true });
        },
      };
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new FailedPreconditionError(
          `Cannot start the daemon: pid file ${path} names a running process (${pid}); is another wharf daemon running?`,
        );
      }
      await rm(path, { force: true });
    }
  }
  throw new FailedPreconditionError(`Cannot start the daemon: pid file ${path} keeps reappearing`);
}
