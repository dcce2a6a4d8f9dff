/**
 * The directory a layer is applied to, and every filesystem operation an apply makes on it.
 *
 * Two modes:
 * - plain: a directory holding the whole tree (the copy snapshotter, or a mounted view);
 *   whiteouts delete.
 * - overlay: an overlay snapshot's fresh, empty upper directory plus its lower directories
 *   (nearest first), written directly without mounting, as containerd does. Whiteouts become
 *   0:0 character devices and opaque directories get `trusted.overlay.opaque=y`, the markers
 *   the kernel itself writes. Paths are resolved in the merged view (upper over lowers, minus
 *   whiteouts, stopping at opaque directories), so a symlink that lives in a lower layer is
 *   followed as it would be in the mounted tree, a missing parent is created with the metadata
 *   its lower copy has, and a hardlink to a file of a lower layer copies that file up first.
 *
 * Containment: every path is resolved with `resolveInRoot` (containerd's RootPath rules), the
 * final component is never followed (O_NOFOLLOW, lchown, lutimes, `setfattr -h`), and the
 * resolution cache is dropped whenever a symlink appears or a directory is replaced, so no cached
 * parent can turn into a symlink behind our back. Deferred work (xattrs, directory times) is
 * re-checked against the tree before it runs.
 *
 * Whiteouts: `mknod` is spawned once per apply to make a 0:0 device in the upper root; every
 * whiteout is a hardlink to it (overlayfs shares whiteout inodes the same way), so a layer with
 * 10,000 deletions costs one process spawn.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmSync,
  type Stats,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { FailedPreconditionError, InternalError, InvalidArgumentError, isErrno } from '../../errors/index.ts';
import { randomHex } from '../../util/random-hex.ts';
import { type PathKind, resolveInRoot } from './root-path.ts';
import { isLayerXattr, OVERLAY_OPAQUE_XATTR } from './whiteout.ts';
import { parseDump, readXattrs, writeXattrs, type XattrMap } from './xattr.ts';

export interface ApplyTargetOptions {
  /** Overlay mode: the lower directories of the snapshot, nearest first. */
  overlayLowers?: readonly string[];
  /** chown entries to their uid/gid (default: when running as root). */
  sameOwner?: boolean;
}

const OPAQUE_VALUE = new Map([[OVERLAY_OPAQUE_XATTR, Buffer.from('y')]]);
const DIR: PathKind = { kind: 'dir' };

export class ApplyTarget {
  readonly root: string;
  readonly overlay: boolean;
  readonly sameOwner: boolean;
  readonly isRoot = process.getuid?.() === 0;
  readonly #lowers: readonly string[];
  #resolved = new Map<string, string>();
  #visible = new Map<string, number[]>();
  #opaque = new Set<string>();
  #xattrs = new Map<string, XattrMap>();
  #xattrCopies = new Map<string, string>();
  #dirTimes = new Map<string, { mtime: number; mode: number | undefined }>();
  #whiteoutTemplate: string | undefined;
  /** Directories known to exist (no lstat needed), with what a new file in them is owned by. */
  #dirs = new Map<string, DirInfo>();
  readonly #euid = process.geteuid?.() ?? 0;
  readonly #egid = process.getegid?.() ?? 0;

  constructor(root: string, options: ApplyTargetOptions = {}) {
    this.root = root.replace(/\/+$/, '') || '/';
    this.overlay = options.overlayLowers !== undefined;
    this.#lowers = options.overlayLowers ?? [];
    this.sameOwner = options.sameOwner ?? this.isRoot;
    const rootStat = lstatSync(this.root, { throwIfNoEntry: false });
    if (!rootStat?.isDirectory())
      throw new InvalidArgumentError(`Cannot apply layer: ${this.root} is not a directory`);
    if (this.overlay && readdirSync(this.root).length > 0)
      throw new FailedPreconditionError(
        `Cannot apply layer: overlay upper directory ${this.root} is not empty`,
      );
    this.#noteDir('', rootStat);
  }

  /** Remembers that directory `rel` exists, with its group and setgid bit. */
  #noteDir(rel: string, stats: { gid: number; mode: number }): void {
    this.#dirs.set(rel, { gid: stats.gid, setgid: (stats.mode & 0o2000) !== 0 });
  }

  /** Records a directory this apply just created or merged, with the owner and mode it was given. */
  noteDir(rel: string, gid: number, mode: number): void {
    if (this.sameOwner) this.#noteDir(rel, { gid, mode });
    else {
      const stats = this.lstat(rel);
      if (stats) this.#noteDir(rel, stats);
    }
  }

  /** Who owns a file just created in directory `parent` (which `ensureDir` has seen). */
  newFileOwner(parent: string): { uid: number; gid: number; setgidParent: boolean } {
    const dir = this.#dirs.get(parent);
    // Unknown parent: report an owner no header has, so the caller sets it explicitly.
    if (!dir) return { uid: -1, gid: -1, setgidParent: true };
    return { uid: this.#euid, gid: dir.setgid ? dir.gid : this.#egid, setgidParent: dir.setgid };
  }

  /** Absolute path of a relative one in the target. */
  path(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  lstat(rel: string): Stats | undefined {
    return lstatSync(this.path(rel), { throwIfNoEntry: false });
  }

  isWhiteout(stats: Stats): boolean {
    return this.overlay && stats.isCharacterDevice() && stats.rdev === 0;
  }

  /** Resolves a directory path of the archive inside the target (cached until the tree changes shape). */
  resolveDir(relDir: string): string {
    let hit = this.#resolved.get(relDir);
    if (hit === undefined) {
      hit = resolveInRoot(relDir, this.#lookup);
      this.#resolved.set(relDir, hit);
    }
    return hit;
  }

  /**
   * Forgets cached resolutions: call after anything that can change how paths resolve. `removed`:
   * something was deleted, so directories known to exist may be gone too (a new symlink or
   * whiteout only ever takes a path that held nothing, so it cannot affect them).
   */
  invalidate(removed = false): void {
    this.#resolved.clear();
    this.#visible.clear();
    if (!removed) return;
    const root = this.#dirs.get('')!;
    this.#dirs.clear();
    this.#dirs.set('', root);
  }

  /** What `rel` is in the view the layer applies to (merged view in overlay mode). */
  #lookup = (rel: string): PathKind => {
    if (this.#dirs.has(rel)) return DIR; // seen since the last change of shape: no lstat
    const upper = this.lstat(rel);
    if (upper) return this.isWhiteout(upper) ? { kind: 'missing' } : kindOf(upper, this.path(rel));
    if (!this.overlay) return { kind: 'missing' };
    const found = this.#findInLowers(rel);
    return found ? kindOf(found.stats, found.path) : { kind: 'missing' };
  };

  /** The topmost lower copy of `rel` visible in the merged view, if any (never a whiteout). */
  #findInLowers(rel: string): { stats: Stats; path: string } | undefined {
    for (const i of this.#visibleLowers(parentOf(rel))) {
      const path = `${this.#lowers[i]}/${rel}`;
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (!stats) continue;
      if (stats.isCharacterDevice() && stats.rdev === 0) return undefined;
      return { stats, path };
    }
    return undefined;
  }

  /** Indices of the lowers whose copy of directory `relDir` shows through in the merged view. */
  #visibleLowers(relDir: string): number[] {
    if (relDir === '') return this.#lowers.map((_, i) => i);
    const cached = this.#visible.get(relDir);
    if (cached) return cached;
    let result: number[] = [];
    const upper = this.lstat(relDir);
    if (!upper || (upper.isDirectory() && !this.#opaque.has(relDir))) {
      for (const i of this.#visibleLowers(parentOf(relDir))) {
        const stats = lstatSync(`${this.#lowers[i]}/${relDir}`, { throwIfNoEntry: false });
        if (!stats) continue;
        if (!stats.isDirectory()) break; // a whiteout or a non-directory ends the stack
        result.push(i);
      }
      if (result.length > 1) {
        // Only an opaque directory above another copy changes anything: ask getfattr once for all.
        const paths = result.slice(0, -1).map((i) => `${this.#lowers[i]}/${relDir}`);
        const opaque = readOpaqueSync(paths);
        const cut = paths.findIndex((p) => opaque.has(p));
        if (cut >= 0) result = result.slice(0, cut + 1);
      }
    }
    this.#visible.set(relDir, result);
    return result;
  }

  /**
   * Makes sure directory `rel` (already resolved) exists in the target, creating missing parents.
   * In overlay mode a new directory takes the metadata of its lower copy; one made where a
   * whiteout was becomes opaque, as overlayfs does on `rmdir` + `mkdir`.
   */
  ensureDir(rel: string): void {
    if (this.#dirs.has(rel)) return;
    const stats = this.lstat(rel);
    if (stats?.isDirectory()) {
      this.#noteDir(rel, stats);
      return;
    }
    const replacesWhiteout = stats !== undefined && this.isWhiteout(stats);
    const lower = this.overlay && !stats ? this.#findInLowers(rel) : undefined;
    if ((stats && !replacesWhiteout) || (lower && !lower.stats.isDirectory())) {
      throw new InvalidArgumentError(`Cannot create directory ${rel}: a non-directory is in the way`);
    }
    this.ensureDir(parentOf(rel));
    if (replacesWhiteout) unlinkSync(this.path(rel));
    mkdirSync(this.path(rel));
    if (lower) {
      this.setOwner(rel, lower.stats.uid, lower.stats.gid);
      chmodSync(this.path(rel), lower.stats.mode & 0o7777);
      this.#xattrCopies.set(rel, lower.path);
      this.deferDirTime(rel, lower.stats.mtimeMs / 1000);
    } else {
      chmodSync(this.path(rel), 0o755);
    }
    this.#noteDir(rel, this.lstat(rel)!);
    if (replacesWhiteout) this.markOpaque(rel);
  }

  /** Removes whatever is at `rel` (recursively); drops caches when that changes resolution. */
  remove(rel: string, stats = this.lstat(rel)): void {
    if (!stats) return;
    rmSync(this.path(rel), { recursive: true, force: true });
    // In overlay mode any removal can uncover lower copies; otherwise only directories and
    // symlinks take part in resolving other paths.
    if (this.overlay || stats.isDirectory() || stats.isSymbolicLink()) this.invalidate(true);
  }

  /** Deletes `rel` from the view: plain mode removes it, overlay mode leaves a whiteout. */
  whiteout(rel: string): void {
    this.remove(rel);
    if (this.overlay) {
      this.#linkWhiteout(this.path(rel));
      this.invalidate();
    }
  }

  #linkWhiteout(path: string): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.#whiteoutTemplate) this.#whiteoutTemplate = this.#makeWhiteoutTemplate();
      try {
        linkSync(this.#whiteoutTemplate, path);
        return;
      } catch (error) {
        // ext4 allows 65,000 links per inode: start another template when one is full.
        if (!isErrno(error, 'EMLINK')) throw error;
        unlinkSync(this.#whiteoutTemplate);
        this.#whiteoutTemplate = undefined;
      }
    }
  }

  #makeWhiteoutTemplate(): string {
    const path = `${this.root}/.wharf-whiteout-${randomHex(8)}`;
    runSync('mknod', ['-m', '000', path, 'c', '0', '0']);
    return path;
  }

  /** Makes directory `rel` opaque: plain mode empties it of what this layer did not write. */
  markOpaque(rel: string, keep?: (childRel: string) => boolean): void {
    if (this.overlay) {
      this.ensureDir(rel);
      this.#opaque.add(rel);
      this.#xattrs.set(rel, new Map([...(this.#xattrs.get(rel) ?? []), ...OPAQUE_VALUE]));
      this.invalidate();
      return;
    }
    const walk = (dirRel: string): void => {
      let names: string[];
      try {
        names = readdirSync(this.path(dirRel));
      } catch (error) {
        if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return;
        throw error;
      }
      for (const name of names) {
        const child = dirRel === '' ? name : `${dirRel}/${name}`;
        if (keep?.(child)) {
          const stats = this.lstat(child);
          if (stats?.isDirectory()) walk(child);
        } else this.remove(child);
      }
    };
    walk(rel);
  }

  /**
   * The absolute path of hardlink target `rel` (resolved), copying it up from a lower layer in
   * overlay mode. Throws when the target does not exist or is a directory.
   */
  hardlinkSource(rel: string, entryName: string): string {
    if (rel === '')
      throw new InvalidArgumentError(`Cannot apply layer entry "${entryName}": hardlink to the root`);
    const upper = this.lstat(rel);
    if (upper && !this.isWhiteout(upper)) {
      if (upper.isDirectory())
        throw new InvalidArgumentError(`Cannot apply layer entry "${entryName}": hardlink to a directory`);
      return this.path(rel);
    }
    const lower = upper ? undefined : this.overlay ? this.#findInLowers(rel) : undefined;
    if (!lower)
      throw new InvalidArgumentError(
        `Cannot apply layer entry "${entryName}": hardlink target ${rel} does not exist`,
      );
    if (lower.stats.isDirectory())
      throw new InvalidArgumentError(`Cannot apply layer entry "${entryName}": hardlink to a directory`);
    this.#copyUp(rel, lower.path, lower.stats);
    return this.path(rel);
  }

  #copyUp(rel: string, source: string, stats: Stats): void {
    this.ensureDir(parentOf(rel));
    const path = this.path(rel);
    if (stats.isSymbolicLink()) {
      symlinkSync(readlinkSync(source), path);
      this.invalidate();
    } else if (stats.isFile()) {
      copyFileSync(source, path, constants.COPYFILE_EXCL);
    } else {
      this.makeNode(
        rel,
        stats.isFIFO() ? 'fifo' : stats.isBlockDevice() ? 'block' : 'char',
        stats.mode,
        stats.rdev,
      );
    }
    this.setOwner(rel, stats.uid, stats.gid);
    if (!stats.isSymbolicLink()) chmodSync(path, stats.mode & 0o7777);
    lutimesSync(path, stats.atimeMs / 1000, stats.mtimeMs / 1000);
    this.#xattrCopies.set(rel, source);
  }

  /** Creates a device node or FIFO at `rel` (which must not exist). */
  makeNode(rel: string, type: 'char' | 'block' | 'fifo', mode: number, rdev: number): void {
    const modeArg = (mode & 0o7777).toString(8);
    if (type === 'fifo') runSync('mknod', ['-m', modeArg, this.path(rel), 'p']);
    else {
      const [major, minor] = splitRdev(rdev);
      runSync('mknod', [
        '-m',
        modeArg,
        this.path(rel),
        type === 'char' ? 'c' : 'b',
        String(major),
        String(minor),
      ]);
    }
  }

  setOwner(rel: string, uid: number, gid: number): void {
    if (this.sameOwner) lchownSync(this.path(rel), uid, gid);
  }

  /** Queues extended attributes for `rel` (set in one batch by `finish`). */
  queueXattrs(rel: string, xattrs: XattrMap): void {
    if (xattrs.size === 0) return;
    const wanted = new Map([...xattrs].filter(([name]) => isLayerXattr(name)));
    if (wanted.size === 0) return;
    this.#xattrs.set(rel, new Map([...(this.#xattrs.get(rel) ?? []), ...wanted]));
  }

  /**
   * Directory times are set last, after everything inside was written; so is a directory's mode
   * when writing into it needs more than its final mode allows (not running as root).
   */
  deferDirTime(rel: string, mtime: number, mode?: number): void {
    this.#dirTimes.set(rel, { mtime, mode });
  }

  /** Sets queued xattrs and directory times, removes the whiteout template. */
  async finish(): Promise<void> {
    if (this.#xattrCopies.size > 0) {
      const sources = await readXattrs([...new Set(this.#xattrCopies.values())]);
      for (const [rel, source] of this.#xattrCopies) {
        const attrs = sources.get(source);
        if (!attrs) continue;
        const copied = [...attrs].filter(([name]) => isLayerXattr(name));
        // The layer's own values (queued later or earlier) win over copied-up ones.
        this.#xattrs.set(rel, new Map([...copied, ...(this.#xattrs.get(rel) ?? [])]));
      }
    }
    const checked = new Map<string, boolean>();
    const writes = [];
    for (const [rel, xattrs] of this.#xattrs) {
      if (!this.#parentsAreDirs(rel, checked)) continue;
      const stats = this.lstat(rel);
      if (!stats) continue;
      // The kernel refuses user.* attributes on anything but files and directories.
      const filtered =
        stats.isFile() || stats.isDirectory()
          ? xattrs
          : new Map([...xattrs].filter(([name]) => !name.startsWith('user.')));
      writes.push({ path: this.path(rel), xattrs: filtered });
    }
    await writeXattrs(writes);
    this.dispose();
    // Deepest first, so a restricted mode on a parent never stops us from reaching its children.
    for (const [rel, { mtime, mode }] of [...this.#dirTimes].reverse()) {
      if (!this.#dirs.has(rel) && !(this.#parentsAreDirs(rel, checked) && this.lstat(rel)?.isDirectory()))
        continue;
      if (mode !== undefined) chmodSync(this.path(rel), mode);
      lutimesSync(this.path(rel), mtime, mtime);
    }
  }

  /** Removes the whiteout template (also on failure; the half-applied tree is discarded anyway). */
  dispose(): void {
    if (this.#whiteoutTemplate) rmSync(this.#whiteoutTemplate, { force: true });
    this.#whiteoutTemplate = undefined;
  }

  /** True when every parent of `rel` is a real directory (no symlink crept in since it was queued). */
  #parentsAreDirs(rel: string, checked: Map<string, boolean>): boolean {
    const parent = parentOf(rel);
    // Known directories have been real directories, all the way up, since they were seen.
    if (parent === '' || this.#dirs.has(parent)) return true;
    let ok = checked.get(parent);
    if (ok === undefined) {
      const stats = this.lstat(parent);
      ok = stats?.isDirectory() === true && this.#parentsAreDirs(parent, checked);
      checked.set(parent, ok);
    }
    return ok;
  }
}

interface DirInfo {
  gid: number;
  setgid: boolean;
}

export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

function kindOf(stats: Stats, path: string): PathKind {
  if (stats.isDirectory()) return { kind: 'dir' };
  if (stats.isSymbolicLink()) return { kind: 'symlink', target: readlinkSync(path) };
  return { kind: 'other' };
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor). */
function splitRdev(rdev: number): [number, number] {
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return [major, minor >>> 0];
}

/** dev_t from major and minor numbers. */
export function makeRdev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12) | ((major & ~0xfff) * 2 ** 32);
}

function readOpaqueSync(paths: string[]): Set<string> {
  const result = spawnSync(
    'getfattr',
    [
      '-h',
      '-d',
      '-m',
      `^${OVERLAY_OPAQUE_XATTR.replaceAll('.', '\\.')}$`,
      '--absolute-names',
      '--',
      ...paths,
    ],
    { encoding: 'utf8' },
  );
  const opaque = new Set<string>();
  for (const [path, attrs] of parseDump(result.stdout ?? '')) {
    if (attrs.get(OVERLAY_OPAQUE_XATTR)?.toString() === 'y') opaque.add(path);
  }
  return opaque;
}

function runSync(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error)
    throw new InternalError(`Cannot run ${command}: ${result.error.message}`, { cause: result.error });
  if (result.status !== 0)
    throw new InternalError(
      `Cannot run ${command} ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.status}`}`,
    );
}
