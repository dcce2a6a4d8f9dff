/**
 * Paths inside a root directory on disk (a mounted snapshot, a build context), resolved as if the
 * root were `/`: symlinks met on the way are followed inside the root, absolute targets restart
 * at the root and `..` stops there, as containerd's `fs.RootPath` does. What a build step writes
 * or reads in an image therefore never leaves that image.
 *
 * @example
 * rootPath('/mnt/rootfs', '/etc/passwd');        // '/mnt/rootfs/etc/passwd'
 * rootPath('/mnt/rootfs', '/lib/x', false);      // with lib -> usr/lib: '/mnt/rootfs/usr/lib/x'
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { isErrno } from '../../errors/index.ts';
import { type PathKind, resolveInRoot } from '../../image/layer/root-path.ts';

/** What `rel` (relative to `root`) is on disk, never following it. */
export function diskPathKind(root: string, rel: string): PathKind {
  const path = rel === '' ? root : `${root}/${rel}`;
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return { kind: 'symlink', target: readlinkSync(path) };
    if (st.isDirectory()) return { kind: 'dir' };
    return { kind: 'other' };
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return { kind: 'missing' };
    throw error;
  }
}

/**
 * The relative path `path` names inside `root` (`''` for the root itself). With `followFinal`
 * false a symlink as the last component is kept, not followed (for writing over it, or copying
 * the link itself).
 */
export function resolveRelative(root: string, path: string, followFinal = true): string {
  const lookup = (rel: string) => diskPathKind(root, rel);
  if (followFinal) return resolveInRoot(path, lookup);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const last = parts.pop();
  if (last === undefined) return '';
  if (last === '..') return resolveInRoot(path, lookup);
  const dir = resolveInRoot(parts.join('/'), lookup);
  return dir === '' ? last : `${dir}/${last}`;
}

/** The absolute path on disk of `path` resolved inside `root`. */
export function rootPath(root: string, path: string, followFinal = true): string {
  const rel = resolveRelative(root, path, followFinal);
  return rel === '' ? root : `${root}/${rel}`;
}
