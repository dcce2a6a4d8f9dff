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
 * then wait until it has nothing else to do, and then a small tree is unlinked at once and
 * anything bigger goes to one detached `rm` that outlives it, instead of keeping it alive
 * (node's recursive rm takes a thread-pool round trip per file: 10-15 ms of a `run --rm` here,
 * after everything the user waits for was done).
 *
 * @example
 * renameSync(dir, trash);
 * deleteInBackground(trash);
 * // ... answer the client ...
 * await settleBackgroundDeletes(); // before process.exit()
 */
import { type Dirent, lstatSync, readdirSync, rmdirSync, type Stats, unlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isErrno } from '../errors/index.ts';
import { childProcess } from './child-process.ts';

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
    const left = paths.splice(0).filter((path) => !deleteSmallTreeSync(path));
    if (left.length === 0) return;
    const child = childProcess().spawn('rm', ['-rf', '--one-file-system', '--', ...left], {
      detached: true,
      stdio: 'ignore',
    });
    child.on('error', () => undefined);
    child.unref();
  });
}

/** The most entries a tree may hold to be deleted in this process rather than by `rm`. */
const SMALL_TREE_ENTRIES = 256;

/**
 * Deletes `root` here and now when it is small: at most SMALL_TREE_ENTRIES entries, all on the
 * file system of `root` itself. An `--rm` container's trash (its few /etc and state files, an
 * empty upper and work directory) is about 20 entries: unlinking them takes a fraction of a
 * millisecond, where the fork of this process for `rm` blocks it for about 3 ms (Node's spawn
 * copies the page tables of its whole heap) just before it ends. Returns false, having deleted
 * nothing, for a bigger tree or one with another file system mounted in it (then `rm
 * --one-file-system` does it, as before); a failure midway also returns false, and `rm` finishes.
 */
function deleteSmallTreeSync(root: string): boolean {
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch (error) {
    return isErrno(error, 'ENOENT');
  }
  // the walk first, deleting nothing: files, then directories deepest first
  const files: string[] = [];
  const dirs: string[] = [];
  if (top.isDirectory()) {
    const pending = [root];
    while (pending.length > 0) {
      const dir = pending.pop()!;
      dirs.push(dir);
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return false;
      }
      for (const entry of entries) {
        if (files.length + dirs.length + pending.length >= SMALL_TREE_ENTRIES) return false;
        const path = `${dir}/${entry.name}`;
        if (!entry.isDirectory()) files.push(path);
        else {
          // a mount point is a directory on another device: left to `rm --one-file-system`
          try {
            if (lstatSync(path).dev !== top.dev) return false;
          } catch {
            return false;
          }
          pending.push(path);
        }
      }
    }
  } else files.push(root);
  try {
    for (const file of files) unlinkSync(file);
    for (const dir of dirs.reverse()) rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}
