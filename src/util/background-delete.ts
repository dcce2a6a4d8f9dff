/**
 * Recursive deletes of directories already renamed out of the way (a removed snapshot's
 * `rm-PID-...`, a removed container's trash directory), run after the caller has answered.
 * Whoever renamed a directory under a name that carries its pid lets its sweep (which deletes
 * such names of dead pids) finish the job after a crash, so nothing here needs to be durable:
 * a process only has to wait for its own deletes before it ends on purpose
 * (`settleBackgroundDeletes`), and Node does that by itself when it ends by running out of
 * work, since a pending delete keeps the event loop alive.
 *
 *
 * A command that ends right after its work (the CLI's) calls `deleteAfterExit` first: its deletes
 * then go, once it has nothing else to do, to one detached `rm` that outlives it, instead of
 * keeping it alive (node's recursive rm takes a thread-pool round trip per file: 10-15 ms of a
 * `run --rm` here, after everything the user waits for was done).
 *
 * @example
 * renameSync(dir, trash);
 * deleteInBackground(trash);
 * // ... answer the client ...
 * await settleBackgroundDeletes(); // before process.exit()
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';

const pending = new Set<Promise<void>>();

/** Set by deleteAfterExit: the paths to hand to the detached `rm` when the process is done. */
let handOff: string[] | undefined;

/** Starts deleting `path` (recursively, missing is fine); failures are left to the sweeps. */
export function deleteInBackground(path: string): void {
  if (handOff) {
    handOff.push(path);
    return;
  }
  const deleting: Promise<void> = rm(path, { recursive: true, force: true })
    .catch(() => undefined)
    .finally(() => pending.delete(deleting));
  pending.add(deleting);
}

/** Resolves once every delete started so far (and any started meanwhile) has finished. */
export async function settleBackgroundDeletes(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending]);
}

/**
 * From now on, this process's background deletes wait until it has nothing else to do (its
 * 'beforeExit'), then run in one detached `rm -rf --one-file-system` that outlives the
 * process (it never descends into another file system mounted in a trash directory, an overlay
 * or a tmpfs a failed unmount left; node's own recursive rm would). A process that ends otherwise (a signal,
 * `process.exit()`) leaves them to the sweeps, as after a crash: each trash name carries the pid
 * of the process that made it.
 */
export function deleteAfterExit(): void {
  if (handOff) return;
  const paths: string[] = [];
  handOff = paths;
  process.on('beforeExit', () => {
    if (paths.length === 0) return;
    const child = spawn('rm', ['-rf', '--one-file-system', '--', ...paths.splice(0)], {
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => undefined);
    child.unref();
  });
}
