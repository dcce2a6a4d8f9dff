/**
 * Copy reuse: a context COPY whose files changed makes its new layer from the snapshot the last
 * COPY of the same *shape* made, hard-linking every file whose bytes and times are unchanged and
 * copying only the others, instead of writing every file again through an overlay mount.
 *
 * The shape of a COPY is its cache key with the bytes of regular files left out (the selection's
 * paths, types, modes, link targets; destination, --chown, --chmod, --parents, --exclude; the
 * parent's key). On the same parent filesystem (checked by chain ID), two copies of one shape
 * take the same decisions (what to create, merge, replace, where each source lands), so their
 * upper directories have the same entries with the same modes and owners; what differs is only
 * what comes from each source entry at copy time: a file's bytes, and the times of any entry.
 * The first copy's `Copier` said which source entry gave each target its metadata (its
 * *manifest*); the clone walks the old upper directory and, for each entry:
 *
 * - directory: made again with the old mode and owner, and the times of its source entry now
 *   (or the present time when no source entry set them: a parent the copy created or wrote into,
 *   which the copy would date now);
 * - regular file: a hard link to the old file when the source's digest and mtime are those the
 *   old one was copied with, else a fresh copy of the source (old mode and owner, new times);
 * - symlink: made again (same target), with the times of its source now;
 * - anything else (a whiteout, a device: never made by a COPY from the context): the clone gives
 *   up and the step copies as usual.
 *
 * Hard links are safe here because committed snapshots never change (overlayfs never writes a
 * lower directory, and nothing else writes a committed snapshot), and a linked file's metadata is
 * exactly what the new layer needs, so nothing ever changes the shared inode. The layer writer
 * emits a tar hardlink only for an inode met twice *within* one tree, so the new layer is the
 * same tar a full copy would give; containers on the snapshot see `st_nlink` 2 or more on such
 * files, as they would on any layer unpacked with hard links.
 *
 * So the new layer is the one a full copy would make, byte for byte, but for the times of the
 * directories dated now (which no full copy reproduces either; SOURCE_DATE_EPOCH clamps them).
 *
 * @example
 * const { manifest, linked, copied } = cloneCopyLayer(oldUpper, newUpper, decodeManifest(text), lookup);
 */
import {
  chmodSync,
  closeSync,
  constants,
  type Dirent,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  type Stats,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { readXattrsRecursive } from '../../image/layer/xattr.ts';
import { copyFdBytes } from '../../util/sync-fs.ts';
import type { ContextFileType } from '../context/context-index.ts';

/** What one target of a copy came from (`digest` is '' for anything but a regular file). */
export interface ManifestEntry {
  /** The source entry's path (relative to the context). */
  source: string;
  /** The source's mtime when copied (Node's millisecond number). */
  mtimeMs: number;
  digest: string;
}

/** Targets (relative to the root of the layer, '' for the root) and where each came from. */
export type CopyManifest = Map<string, ManifestEntry>;

/** A source entry as it is now. */
export interface ReuseSource {
  type: ContextFileType;
  mtimeMs: number;
  atimeMs: number;
  /** sha256 of a regular file's bytes ('' otherwise). */
  digest: string;
  /** Where its bytes are. */
  absolute: string;
}

export interface CloneResult {
  /** The manifest of the new layer. */
  manifest: CopyManifest;
  /** Files hard-linked and files copied. */
  linked: number;
  copied: number;
  /** The paths (relative) of the files hard-linked: their tar entries are the old layer's. */
  linkedPaths: Set<string>;
  /** Entries of the new tree, its root excluded. */
  entries: number;
}

/** The old snapshot is not what a copy of the manifest's shape makes: copy as usual. */
export class CannotReuseError extends Error {
  override readonly name = 'CannotReuseError';
}

/**
 * The manifest as text, one line per target (`target\tsource\tmtime\tdigest`); undefined when a
 * path holds a tab or a newline (such a copy is simply not reused).
 */
export function encodeManifest(manifest: CopyManifest): string | undefined {
  const lines: string[] = [];
  for (const [target, e] of manifest) {
    if (/[\t\n]/.test(target) || /[\t\n]/.test(e.source)) return undefined;
    lines.push(`${target}\t${e.source}\t${e.mtimeMs}\t${e.digest}`);
  }
  return lines.join('\n');
}

export function decodeManifest(text: string): CopyManifest {
  const manifest: CopyManifest = new Map();
  if (text === '') return manifest;
  for (const line of text.split('\n')) {
    const [target, source, mtime, digest] = line.split('\t');
    if (target === undefined || source === undefined || mtime === undefined || digest === undefined)
      throw new CannotReuseError(`Cannot read a copy manifest line: ${JSON.stringify(line)}`);
    manifest.set(target, { source, mtimeMs: Number(mtime), digest });
  }
  return manifest;
}

/**
 * Extended attributes an upper directory made by a COPY may carry: overlayfs's bookkeeping of
 * copied-up directories (never part of a layer, not needed on a lower directory) and the host's
 * SELinux label. Anything else (a copied-up directory's own attributes, a default ACL, an opaque
 * or redirect marker) would have to be cloned too: such a layer is not reused.
 */
const CLONEABLE_XATTRS = new Set([
  'trusted.overlay.origin',
  'trusted.overlay.impure',
  'trusted.overlay.nlink',
  'trusted.overlay.uuid',
  'security.selinux',
]);

/**
 * Fills the empty upper directory `newRoot` from `oldRoot`, the upper directory a copy of the
 * same shape made with `manifest`, for the sources as `lookup` finds them now. Returns the
 * manifest of the new layer. Throws CannotReuseError when the old tree or the sources do not
 * fit (the caller then discards `newRoot` and copies as usual).
 */
export async function cloneCopyLayer(
  oldRoot: string,
  newRoot: string,
  manifest: CopyManifest,
  lookup: (source: string) => ReuseSource | undefined,
): Promise<CloneResult> {
  // the snapshotter may name the directory through a symlink (overlay's short `l/` names)
  const old = realpathSync(oldRoot);
  // getfattr reads the old tree while the clone is made (one spawn, a second core)
  const xattrs = readXattrsRecursive(old);
  xattrs.catch(() => {});
  const result = cloneTree(old, newRoot, manifest, lookup);
  for (const [path, attrs] of await xattrs) {
    for (const name of attrs.keys()) {
      if (!CLONEABLE_XATTRS.has(name))
        throw new CannotReuseError(`${path} has the extended attribute ${name}`);
    }
  }
  return result;
}

function cloneTree(
  oldRoot: string,
  newRoot: string,
  manifest: CopyManifest,
  lookup: (source: string) => ReuseSource | undefined,
): CloneResult {
  const next: CopyManifest = new Map();
  const linkedPaths = new Set<string>();
  let entries = 0;
  // directories no source entry dates were made or written into by the copy: dated now, as the
  // copy would have them
  const present = new Date();
  let linked = 0;
  let copied = 0;
  const sourceOf = (
    rel: string,
    type: ContextFileType,
  ): { entry: ManifestEntry; now: ReuseSource } | undefined => {
    const entry = manifest.get(rel);
    if (!entry) return undefined;
    const now = lookup(entry.source);
    if (now?.type !== type)
      throw new CannotReuseError(`the source of /${rel} is no longer a ${type}: ${entry.source}`);
    return { entry, now };
  };
  const owner = (st: Stats, path: string): void => {
    if (st.uid !== 0 || st.gid !== 0) lchownSync(path, st.uid, st.gid);
  };

  // The directory listing's types spare an lstat per file: only directories, symlinks and the
  // files copied again need the old entry's metadata.
  const visit = (rel: string, oldAbs: string, newAbs: string, kind: Dirent | undefined): void => {
    if (rel !== '') entries++;
    if (kind?.isFile()) {
      const from = sourceOf(rel, 'file');
      if (!from) throw new CannotReuseError(`/${rel} was not written from a source entry`);
      const { entry, now } = from;
      if (now.digest === entry.digest && now.mtimeMs === entry.mtimeMs) {
        linkSync(oldAbs, newAbs);
        linkedPaths.add(rel);
        linked++;
      } else {
        copyFile(now.absolute, newAbs, lstatSync(oldAbs), now);
        copied++;
      }
      next.set(rel, { source: entry.source, mtimeMs: now.mtimeMs, digest: now.digest });
      return;
    }
    const st = lstatSync(oldAbs);
    if (st.isDirectory()) {
      const from = sourceOf(rel, 'directory');
      if (rel !== '') mkdirSync(newAbs);
      // ownership first: chown clears setuid and setgid bits
      if (rel === '' || st.uid !== 0 || st.gid !== 0) lchownSync(newAbs, st.uid, st.gid);
      chmodSync(newAbs, st.mode & 0o7777);
      for (const child of readdirSync(oldAbs, { withFileTypes: true })) {
        const name = child.name;
        visit(rel === '' ? name : `${rel}/${name}`, `${oldAbs}/${name}`, `${newAbs}/${name}`, child);
      }
      if (from) {
        utimesSync(newAbs, from.now.atimeMs / 1000, from.now.mtimeMs / 1000);
        next.set(rel, { source: from.entry.source, mtimeMs: from.now.mtimeMs, digest: '' });
      } else utimesSync(newAbs, present, present);
      return;
    }
    if (st.isSymbolicLink()) {
      const from = sourceOf(rel, 'symlink');
      if (!from) throw new CannotReuseError(`/${rel} was not written from a source entry`);
      symlinkSync(readlinkSync(oldAbs), newAbs);
      owner(st, newAbs);
      lutimesSync(newAbs, from.now.atimeMs / 1000, from.now.mtimeMs / 1000);
      next.set(rel, { source: from.entry.source, mtimeMs: from.now.mtimeMs, digest: '' });
      return;
    }
    throw new CannotReuseError(`/${rel} is neither a directory, a file nor a symlink`);
  };
  visit('', oldRoot, newRoot, undefined);
  if (next.size !== manifest.size)
    throw new CannotReuseError('the old layer lacks targets its manifest names');
  return { manifest: next, linked, copied, linkedPaths, entries };
}

/** A fresh copy of `source` at `target` with the old target's mode and owner and the source's times. */
function copyFile(source: string, target: string, old: Stats, now: ReuseSource): void {
  // a file of the context, lstat'ed as one: never follow what replaced it meanwhile
  const input = openSync(source, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const output = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      copyFdBytes(input, output);
      if (old.uid !== 0 || old.gid !== 0) fchownSync(output, old.uid, old.gid);
      fchmodSync(output, old.mode & 0o7777);
      futimesSync(output, now.atimeMs / 1000, now.mtimeMs / 1000);
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}
