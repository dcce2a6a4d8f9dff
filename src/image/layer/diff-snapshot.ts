/**
 * The layer an active snapshot adds to its parent (what `docker commit` and each build step
 * produce). An overlay snapshot's upper directory is diffed directly; otherwise the parent is
 * shown through a temporary read-only view and the two trees are compared (a bind mount's source
 * is read in place, anything else is mounted until the stream ends).
 *
 * @example
 * const diff = await diffSnapshot(snapshotter, 'build-step-3', { compression: 'gzip' });
 * await contentStore.ingest(diff.stream); const { diffID, digest } = await diff.result;
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError } from '../../errors/index.ts';
import { mountAt, unmount } from '../../snapshot/mount.ts';
import type { Mount, Snapshotter } from '../../snapshot/snapshotter.ts';
import { optionValue } from './apply-to-mounts.ts';
import { type DiffOptions, diffDirectories, diffUpperDir, type LayerDiff } from './diff.ts';

export async function diffSnapshot(
  snapshotter: Snapshotter,
  key: string,
  options: DiffOptions = {},
): Promise<LayerDiff> {
  const info = await snapshotter.stat(key);
  if (info.kind !== 'active')
    throw new FailedPreconditionError(`Cannot diff snapshot ${key}: it is ${info.kind}`);
  const upper = await snapshotter.mounts(key);
  const only = upper.length === 1 ? upper[0] : undefined;
  const upperDir = only?.type === 'overlay' ? optionValue(only, 'upperdir') : undefined;
  if (upperDir !== undefined) return diffUpperDir(upperDir, options);
  if (info.parent === undefined && only?.type === 'bind')
    return diffDirectories(undefined, only.source, options);

  // Two trees: hold a view of the parent (and mounts, where needed) until the stream is done.
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    cleanups.length = 0;
  };
  try {
    let lowerDir: string | undefined;
    if (info.parent !== undefined) {
      const viewKey = `diff-${randomBytes(8).toString('hex')} ${key}`;
      const lower = await snapshotter.view(viewKey, info.parent);
      cleanups.push(() => snapshotter.remove(viewKey));
      lowerDir = await directoryOf(lower, cleanups);
    }
    const upperPath = await directoryOf(upper, cleanups);
    const diff = diffDirectories(lowerDir, upperPath, options);
    // The result settles when the stream ends, fails or is abandoned: then the view can go.
    diff.result.then(cleanup, cleanup);
    return diff;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** A directory showing `mounts`: a plain bind's source, or a temporary mount point. */
async function directoryOf(mounts: Mount[], cleanups: (() => Promise<void>)[]): Promise<string> {
  const only = mounts.length === 1 ? mounts[0] : undefined;
  if (only?.type === 'bind' && !only.target) return only.source;
  const dir = await mkdtemp(join(tmpdir(), 'wharf-diff-'));
  cleanups.push(() => rmdir(dir));
  await mountAt(mounts, dir);
  cleanups.push(() => unmount(dir));
  return dir;
}
