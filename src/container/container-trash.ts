/**
 * Where a removed container's directory (and a stopped run's runtime state directory) goes
 * before it is deleted: renamed to
 * `ROOT/containers/rm-PID-RANDOM` (a container id is 64 hex digits, so no id looks like that),
 * which leaves the container's own path free at once, and then deleted in the background
 * (util/background-delete.ts). A process that dies first leaves the trash directory under its
 * pid; `sweepContainerTrash` (run when a container service opens its snapshotter, next to the
 * snapshotter's own sweep) deletes those of dead processes.
 *
 * @example
 * await discardDirectory(root, containerPaths(root, id).dir); // gone from its path; deleted soon
 */
import { renameSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../errors/index.ts';
import { deleteInBackground } from '../util/background-delete.ts';
import { isProcessAlive } from '../util/process-alive.ts';
import { randomHex } from '../util/random-hex.ts';
import { containersDir } from './container-paths.ts';

const TRASH_NAME = /^rm-(\d+)-/;

function trashPath(root: string): string {
  return join(containersDir(root), `rm-${process.pid}-${randomHex(6)}`);
}

/** Renames `dir` (a container's directory) into the trash; undefined when there was no `dir`. */
export async function moveToTrash(root: string, dir: string): Promise<string | undefined> {
  const trash = trashPath(root);
  try {
    // synchronous: one rename on the way of every removal (a fraction of a millisecond; a
    // thread-pool round trip costs 0.1-0.9 ms quiet, milliseconds under load)
    renameSync(dir, trash);
    return trash;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/**
 * Moves `dir` off its path at once and deletes it in the background (moveToTrash, then
 * deleteInBackground); a `dir` on another file system than the trash (a runtime state directory
 * on tmpfs) is deleted in place instead. A missing `dir` is no error.
 */
export async function discardDirectory(root: string, dir: string): Promise<void> {
  let trash: string | undefined;
  try {
    trash = await moveToTrash(root, dir);
  } catch (error) {
    if (!isErrno(error, 'EXDEV')) throw error;
    await rm(dir, { recursive: true, force: true });
    return;
  }
  if (trash !== undefined) deleteInBackground(trash);
}

/**
 * Deletes, in the background, the trash directories that dead processes left under
 * `ROOT/containers`: it runs beside the snapshotter's open, which need not wait for the deletes.
 */
export async function sweepContainerTrash(root: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(containersDir(root));
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  for (const name of names) {
    const match = TRASH_NAME.exec(name);
    if (!match || isProcessAlive(Number(match[1]))) continue;
    // claimed by a rename first: of two sweepers, only one deletes it
    const mine = trashPath(root);
    try {
      await rename(join(containersDir(root), name), mine);
    } catch {
      continue;
    }
    deleteInBackground(mine);
  }
}
