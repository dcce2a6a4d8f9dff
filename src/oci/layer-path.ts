/**
 * The names inside an OCI layer tar (image-spec `layer.md`), read without any filesystem: an entry
 * name cleaned the way Go's `filepath.Clean("/" + name)` would, and what the entry means for the
 * layers below it. `.wh.NAME` deletes NAME; `.wh..wh..opq` hides everything the layers below have
 * in its directory; other `.wh..wh.*` names (AUFS's `.wh..wh.plnk` hardlink directory) are
 * metadata, never applied; everything else is an entry of the layer.
 *
 * The local image store (src/image/layer/) and the registry's scanner (src/registry/scan/) both
 * read layers by these rules, so they live here, below both.
 *
 * @example
 * classifyLayerPath('./var/lib/dpkg/.wh.status'); // { kind: 'whiteout', path: 'var/lib/dpkg/status' }
 * cleanRelative('../../etc/passwd'); // 'etc/passwd'
 */

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const WHITEOUT_LINK_DIR = '.wh..wh.plnk';

/** The name a `.wh.NAME` entry deletes, or undefined when `base` is not a plain whiteout. */
export function whiteoutTarget(base: string): string | undefined {
  if (!base.startsWith(WHITEOUT_PREFIX) || base.startsWith(WHITEOUT_META_PREFIX)) return undefined;
  return base.slice(WHITEOUT_PREFIX.length);
}

/**
 * Cleans an archive entry name into a relative path the way Go's `filepath.Clean("/" + name)`
 * would, dropping `.` and empty parts and resolving `..` lexically at the root: `../../etc` -> `etc`.
 */
export function cleanRelative(name: string): string {
  // Fast path: most archive names are already clean (`usr/bin/x`, `usr/lib/`).
  if (!CLEAN_NEEDED.test(name)) return name.endsWith('/') ? name.slice(0, -1) : name;
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

/** A leading `/` or `./`, an empty, `.` or `..` component anywhere, or a trailing `/.`/`/..`. */
const CLEAN_NEEDED = /^\/|^\.\.?(\/|$)|\/\/|\/\.\.?(\/|$)/;

/** What one tar entry name means in a layer. */
export type LayerPath =
  /** The root itself (`./`): nothing to apply. */
  | { kind: 'root' }
  /** `.wh..wh..opq` in `dir` ('' for the root). */
  | { kind: 'opaque'; dir: string }
  /** `.wh.NAME`: `path` (relative) is deleted. */
  | { kind: 'whiteout'; path: string }
  /** Another `.wh..wh.*` name: metadata, left out. */
  | { kind: 'meta' }
  /** An ordinary entry at `rel`, in directory `dir` ('' for the root). */
  | { kind: 'entry'; rel: string; dir: string };

/** Classifies a tar entry name by the whiteout rules. */
export function classifyLayerPath(name: string): LayerPath {
  const rel = cleanRelative(name);
  if (rel === '') return { kind: 'root' };
  const slash = rel.lastIndexOf('/');
  const dir = slash < 0 ? '' : rel.slice(0, slash);
  const base = slash < 0 ? rel : rel.slice(slash + 1);
  if (base === WHITEOUT_OPAQUE) return { kind: 'opaque', dir };
  const deleted = whiteoutTarget(base);
  if (deleted !== undefined) return { kind: 'whiteout', path: dir === '' ? deleted : `${dir}/${deleted}` };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  return { kind: 'entry', rel, dir };
}
