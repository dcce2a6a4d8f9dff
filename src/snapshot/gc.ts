/**
 * Garbage collection of snapshots: mark every snapshot reachable from the roots (the snapshots
 * images and containers use, and whatever leases hold) through parent links, then remove the rest,
 * children before parents. The caller gathers the roots from the metadata store; snapshots carrying
 * the label `wharf.gc/root` are roots too, and `keep` can spare more (an unpack in progress).
 *
 * @example
 * const { removed } = await collectSnapshots(snapshotter, ['sha256:top-of-image', 'ctr-abc']);
 */
import { FailedPreconditionError, isErrno, NotFoundError } from '../errors/index.ts';
import type { SnapshotInfo, Snapshotter } from './snapshotter.ts';

/** A snapshot with this label (any value) is never collected. */
export const GC_ROOT_LABEL = 'wharf.gc/root';

export interface CollectOptions {
  /** Also keep (with their ancestors) the snapshots this returns true for. */
  keep?: (info: SnapshotInfo) => boolean;
  /** List what would go without removing anything. */
  dryRun?: boolean;
}

export interface CollectResult {
  /** Names of the snapshots removed (or that would be, on a dry run), children first. */
  removed: string[];
}

export async function collectSnapshots(
  snapshotter: Snapshotter,
  roots: Iterable<string>,
  options: CollectOptions = {},
): Promise<CollectResult> {
  const all = new Map<string, SnapshotInfo>();
  await snapshotter.walk((info) => {
    all.set(info.name, info);
  });
  const marked = new Set<string>();
  const mark = (name: string | undefined): void => {
    while (name !== undefined && !marked.has(name)) {
      const info = all.get(name);
      if (!info) return;
      marked.add(name);
      name = info.parent;
    }
  };
  for (const root of roots) mark(root);
  for (const info of all.values()) {
    if (GC_ROOT_LABEL in info.labels || options.keep?.(info)) mark(info.name);
  }
  // Children first: a snapshot goes once nothing unmarked is based on it.
  const children = new Map<string, number>();
  for (const info of all.values()) {
    if (info.parent !== undefined) children.set(info.parent, (children.get(info.parent) ?? 0) + 1);
  }
  const queue = [...all.values()].filter((i) => !marked.has(i.name) && !children.get(i.name));
  const removed: string[] = [];
  while (queue.length > 0) {
    const info = queue.shift()!;
    if (!options.dryRun) {
      try {
        await snapshotter.remove(info.name);
      } catch (error) {
        // Someone else removed it, or based a new snapshot on it meanwhile: leave it be.
        if (
          error instanceof NotFoundError ||
          error instanceof FailedPreconditionError ||
          isErrno(error, 'ENOENT')
        )
          continue;
        throw error;
      }
    }
    removed.push(info.name);
    if (info.parent !== undefined) {
      const left = (children.get(info.parent) ?? 1) - 1;
      children.set(info.parent, left);
      const parent = all.get(info.parent);
      if (left === 0 && parent && !marked.has(parent.name)) queue.push(parent);
    }
  }
  return { removed };
}
