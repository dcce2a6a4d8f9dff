/**
 * The content digest of a path in a source tree (another stage's or an image's root filesystem),
 * for cache keys that follow content rather than history, as BuildKit's content checksums do:
 * a `RUN --mount=from=stage` whose stage was rebuilt but holds the same bytes stays cached.
 *
 * The digest covers, for the path and everything below it (depth first, names in byte order): the
 * path below the root of the selection, the type, the permission bits, the owner, the sha256 of a
 * file's bytes, a symlink's target and a device's number. Never times: a rebuilt stage writes
 * new mtimes and the same content.
 *
 * @example
 * const digest = treeDigest(new DiskTree('/mnt/view'), 'out'); // 'sha256:...'
 */
import { createHash } from 'node:crypto';
import { resolveInRoot } from '../../image/layer/root-path.ts';
import { hashFile } from '../context/file-digests.ts';
import type { SourceTree } from './source-tree.ts';

/** The digest of `rel` in `tree` (its own symlinks followed inside the tree, as a mount source is). */
export function treeDigest(tree: SourceTree, rel: string): string {
  const hash = createHash('sha256');
  const root = resolveInRoot(rel, (r) => tree.kind(r));
  const visit = (path: string, components: string): void => {
    const st = tree.stat(path);
    if (!st) {
      hash.update(`${components}\0missing\n`);
      return;
    }
    let what = '';
    if (st.type === 'file') what = hashFile(tree.absolute(path));
    else if (st.type === 'symlink') what = st.linkTarget ?? '';
    else if (st.type === 'char-device' || st.type === 'block-device') what = String(st.rdev);
    hash.update(`${components}\0${st.type}\0${st.mode.toString(8)}\0${st.uid}:${st.gid}\0${what}\n`);
    if (st.type !== 'directory') return;
    for (const name of tree.children(path)) {
      visit(path === '' ? name : `${path}/${name}`, components === '' ? name : `${components}/${name}`);
    }
  };
  visit(root, '');
  return `sha256:${hash.digest('hex')}`;
}
