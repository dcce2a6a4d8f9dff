/**
 * The filesystem exporters of `--output`: the final stage's root filesystem, read from a mounted
 * view, written out instead of stored as an image (BuildKit's `local` and `tar` exporters).
 *
 * - `local`: copied into a directory (made when missing), keeping modes, owners, times, symlinks
 *   and hard links (the copier COPY uses, so the same rules apply);
 * - `tar`: one tar stream of every entry, in the fixed order and format of Wharf's layers (no user
 *   names, whole-second mtimes clamped to SOURCE_DATE_EPOCH when the build has one).
 *
 * @example
 * await exportLocal('/mnt/view', './out');
 * await exportTar('/mnt/view', createWriteStream('out.tar'), { sourceDateEpoch: 1700000000 });
 */
import { mkdirSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { diffDirectories } from '../image/layer/diff.ts';
import { Copier } from './fs/copy.ts';
import { DiskTree } from './fs/source-tree.ts';

/** Copies the tree at `rootfs` into `dest`. */
export async function exportLocal(rootfs: string, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  new Copier(dest, {}).copy(new DiskTree(rootfs), '', '/');
}

/** Writes the tree at `rootfs` as a tar stream to `dest` (left open when it is stdout). */
export async function exportTar(
  rootfs: string,
  dest: Writable,
  options: { sourceDateEpoch: number },
): Promise<void> {
  const diff = diffDirectories(undefined, rootfs, { sourceDateEpoch: options.sourceDateEpoch });
  const end = dest !== process.stdout;
  await pipeline(diff.stream, dest, { end });
  await diff.result;
}
