/**
 * Resolving a path inside a root the way containerd's `continuity/fs.RootPath` does: walk it one
 * component at a time, follow symlinks as if the root were `/` (an absolute target restarts at the
 * root, `..` stops at the root), so whatever the path and whatever the symlinks met on the way, the
 * result names something inside the root. Only the components are followed, never the result: the
 * caller decides what to do with a final symlink.
 *
 * Paths here are relative (`a/b`, `''` for the root itself); the lookup says what each one is.
 *
 * @example
 * // with `lib -> /usr/lib` inside the root:
 * resolveInRoot('lib/x', lookup); // 'usr/lib/x'
 * resolveInRoot('../../etc/passwd', lookup); // 'etc/passwd', never outside
 */
import { InvalidArgumentError } from '../../errors/index.ts';

/** What a relative path names, as far as resolution cares. */
export type PathKind =
  | { kind: 'missing' }
  | { kind: 'dir' }
  | { kind: 'other' }
  | { kind: 'symlink'; target: string };

export type PathLookup = (rel: string) => PathKind;

/** Linux's own limit on symlinks followed in one lookup is 40; containerd allows 255. */
const MAX_LINKS = 255;

/**
 * Resolves `path` (absolute or relative, any `..`) inside the root whose entries `lookup` describes.
 * Returns the resolved relative path ('' for the root). Throws on symlink loops.
 */
export function resolveInRoot(path: string, lookup: PathLookup): string {
  const resolved: string[] = [];
  // Components still to walk, last one at the end of the array (so push/pop work on the front).
  const pending = splitReversed(path);
  let links = 0;
  // Depth of the first missing component: below it, lookups are pointless and resolution is lexical.
  let missingDepth = 0;
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === '..') {
      resolved.pop();
      if (resolved.length < missingDepth) missingDepth = 0;
      continue;
    }
    resolved.push(part);
    if (missingDepth > 0) continue;
    const info = lookup(resolved.join('/'));
    if (info.kind === 'missing') {
      missingDepth = resolved.length;
      continue;
    }
    if (info.kind !== 'symlink') continue;
    if (++links > MAX_LINKS)
      throw new InvalidArgumentError(`Cannot resolve path "${path}": too many levels of symbolic links`);
    resolved.pop();
    if (info.target.startsWith('/')) resolved.length = 0;
    pending.push(...splitReversed(info.target));
  }
  return resolved.join('/');
}

// Shared with the registry's layer reader: the OCI layer-name rules live in src/oci.
export { cleanRelative } from '../../oci/layer-path.ts';

function splitReversed(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  parts.reverse();
  return parts;
}
