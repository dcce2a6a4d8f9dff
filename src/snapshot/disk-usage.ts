/**
 * Disk use of a directory tree the way `du` counts it: allocated blocks, each inode once (hardlinks
 * are not counted twice), symlinks not followed.
 *
 * @example
 * const { size, inodes } = diskUsage('/var/lib/wharf/snapshots/overlay/snapshots/3/fs');
 */
import { lstatSync, readdirSync } from 'node:fs';
import type { Usage } from './snapshotter.ts';

export function diskUsage(dir: string): Usage {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  const visit = (path: string): void => {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (!stats) return;
    const key = `${stats.dev}:${stats.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      inodes++;
      size += stats.blocks * 512;
    }
    if (stats.isDirectory()) for (const name of readdirSync(path)) visit(`${path}/${name}`);
  };
  visit(dir);
  return { size, inodes };
}
