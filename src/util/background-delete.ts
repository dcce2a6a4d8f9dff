/**
 * Recursive deletes of directories already renamed out of the way (a removed snapshot's
 * `rm-PID-...`, a removed container's trash directory), run after the caller has answered.
 * Whoever renamed a directory under a name that carries its pid lets its sweep (which deletes
 * such names of dead pids) finish the job after a crash, so nothing here needs to be durable:
 * a process only has to wait for its own deletes before it ends on purpose
 * (`settleBackgroundDeletes`), and Node does that by itself when it ends by running out of
 * work, since a pending delete keeps the event loop alive.
 *
 * @example
 * renameSync(dir, trash);
 * deleteInBackground(trash);
 * // ... answer the client ...
 * await settleBackgroundDeletes(); // before process.exit()
 */
import { rm } from 'node:fs/promises';

const pending = new Set<Promise<void>>();

/** Starts deleting `path` (recursively, missing is fine); failures are left to the sweeps. */
export function deleteInBackground(path: string): void {
  const deleting: Promise<void> = rm(path, { recursive: true, force: true })
    .catch(() => undefined)
    .finally(() => pending.delete(deleting));
  pending.add(deleting);
}

/** Resolves once every delete started so far (and any started meanwhile) has finished. */
export async function settleBackgroundDeletes(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending]);
}
