/**
 * Per-container mutual exclusion across processes: `start`, cleanup after an exit, and removal
 * each run under the container's lock (its `lock_owner` column, see container-records.ts), so
 * conmon's exit command, a foreground `wharf run` and a `wharf ps` reconciling never handle the
 * same exit twice. A lock held by a dead process is free. Re-entrant within a process.
 *
 * @example
 * await withContainerLock(records, id, async () => { ... });
 */
import { UnavailableError } from '../errors/index.ts';
import type { ContainerRecords } from './container-records.ts';

const held = new Map<string, number>();

/** Runs `fn` holding container `id`'s lock, waiting up to `timeoutMs` for another holder. */
export async function withContainerLock<T>(
  records: ContainerRecords,
  id: string,
  fn: () => Promise<T>,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  const depth = held.get(id) ?? 0;
  if (depth === 0) {
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    let wait = 5;
    while (!records.tryLock(id)) {
      if (Date.now() > deadline) {
        throw new UnavailableError(`Cannot lock container ${id}: another process holds it`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, 50);
    }
  }
  held.set(id, depth + 1);
  try {
    return await fn();
  } finally {
    const left = (held.get(id) ?? 1) - 1;
    if (left === 0) {
      held.delete(id);
      try {
        records.unlock(id);
      } catch {
        // the row may be gone (removed under the lock): nothing to release
      }
    } else held.set(id, left);
  }
}
