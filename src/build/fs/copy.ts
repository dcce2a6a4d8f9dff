/**
 * COPY and ADD's file copy, with the semantics of BuildKit's file op (`docopy`) over
 * tonistiigi/fsutil's `copy.Copy` with the options the Dockerfile frontend sets (follow symlinks
 * of the source path, copy a directory's contents, wildcards allowed and allowed to match
 * nothing, create the destination path):
 *
 * - the destination keeps its trailing slash: `/app/` (or an existing directory) receives the
 *   source inside it, `/app/x` without a slash names the copy itself; missing parents are made
 *   (mode 0755, or the octal `--chmod`; owner 0:0 or `--chown`);
 * - a source directory's *contents* are copied; a symlink given as the source is followed (inside
 *   the source root), symlinks met inside a copied directory are copied as links;
 * - existing directories are merged; an existing file or link at a file's place is replaced; a
 *   directory never gives way to a file;
 * - copied entries keep mode and mtime, owner 0:0 from the context (its transfer resets owners)
 *   or the source owner from a stage, unless `--chown`; `--chmod` (octal or symbolic) applies to
 *   every copied entry, directories included;
 * - hard links between copied files stay hard links;
 * - `--exclude` patterns skip entries, `--parents` include patterns keep the matched paths'
 *   parents (created when something below them is copied).
 *
 * Everything is resolved inside the destination root (a mounted snapshot), so no symlink in the
 * image can send a write outside it.
 *
 * @example
 * copyPath(new ContextTree(index), '/src', '/mnt/rootfs', '/app/', { owner: { uid: 1000, gid: 1000 } });
 */

import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import type { DockerIgnore, IgnoreMatchInfo } from '../../dockerfile/dockerignore.ts';
import type { ChmodSpec } from '../../dockerfile/instructions/index.ts';
import { InvalidArgumentError, isErrno, NotFoundError } from '../../errors/index.ts';
import { resolveInRoot } from '../../image/layer/root-path.ts';
import { copyFdBytes } from '../../util/sync-fs.ts';
import type { ContextLinks } from './context-links.ts';
import { rootPath } from './root-path.ts';
import type { SourceStat, SourceTree } from './source-tree.ts';
import type { Owner } from './users.ts';

export interface CopyOptions {
  /** `--chown`: the owner of every copied and created entry. */
  owner?: Owner;
  /** `--chmod`. */
  mode?: ChmodSpec;
  /** `--parents`: only paths matching these (and their parents) are copied. */
  include?: DockerIgnore;
  /** `--exclude`. */
  exclude?: DockerIgnore;
  /**
   * Told of every entry written or given a source entry's metadata (at least its times): the
   * target's absolute path and the source's path in the tree. What the build's copy reuse
   * (copy-reuse.ts) needs to know which source entry each target of a layer came from.
   */
  record?: (target: string, source: string) => void;
  /**
   * Regular files of the context to hard-link rather than copy (context-links.ts): the copier
   * plans them, and sees a planned file wherever it looks before writing. Only with a context
   * tree, and ignored with `owner` or `mode` (a link cannot take another owner or mode).
   */
  links?: ContextLinks;
}

/** What the copier asks of an existing target before writing. */
interface TargetStat {
  isDirectory(): boolean;
}

/** A file planned as a link (context-links.ts): not on disk yet, a regular file for the copier. */
const PLANNED: TargetStat = { isDirectory: () => false };

/** Go's filepath.Split: the directory keeps its trailing slash. */
function splitPath(p: string): { dir: string; base: string } {
  const slash = p.lastIndexOf('/');
  return { dir: p.slice(0, slash + 1), base: p.slice(slash + 1) };
}

/** filepath.Clean of an absolute path. */
export function cleanAbs(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

const basename = (p: string): string => {
  const clean = cleanAbs(p);
  return clean === '/' ? '/' : clean.slice(clean.lastIndexOf('/') + 1);
};

const dirnameAbs = (p: string): string => {
  const slash = p.lastIndexOf('/');
  return slash <= 0 ? '/' : p.slice(0, slash);
};

function statOrUndefined(path: string, follow: boolean) {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

/**
 * fsutil's MkdirAll: creates `path` and missing parents; returns what it created. `links` names
 * the files planned as links, which are in the way as files on disk would be.
 */
export function mkdirAll(
  path: string,
  perm: number,
  owner: Owner | undefined,
  links?: ContextLinks,
): string[] {
  const st = links?.has(path) ? PLANNED : statOrUndefined(path, true);
  if (st) {
    if (st.isDirectory()) return [];
    throw new InvalidArgumentError(`Cannot create directory ${path}: a file is in the way`);
  }
  const created: string[] = [];
  const parent = dirnameAbs(path.replace(/\/+$/, ''));
  if (parent !== path && parent !== '/' && parent !== '')
    created.push(...mkdirAll(parent, perm, owner, links));
  const again = statOrUndefined(path, false);
  if (again?.isDirectory()) return created;
  mkdirSync(path);
  chmodSync(path, perm & 0o777);
  created.push(path);
  if (owner && (owner.uid !== 0 || owner.gid !== 0)) lchownSync(path, owner.uid, owner.gid);
  return created;
}

interface ParentDir {
  src: string;
  dst: string;
  copied: boolean;
}

/** Copies one source path (already wildcard-resolved, relative to the tree) to `destPath` in `dstRoot`. */
export class Copier {
  readonly #root: string;
  readonly #options: CopyOptions;
  readonly #inodes = new Map<string, string>();
  readonly #parents: ParentDir[] = [];
  /** Files planned as links instead of copied (CopyOptions.links). */
  readonly #links: ContextLinks | undefined;
  /** Entries written (for progress and tests). */
  copied = 0;

  constructor(dstRoot: string, options: CopyOptions) {
    this.#root = dstRoot;
    this.#options = options;
    this.#links = options.owner || options.mode ? undefined : options.links;
  }

  /** What is at `path` for the copier: a planned link is a file. */
  #statTarget(path: string, follow: boolean): TargetStat | undefined {
    return this.#links?.has(path) ? PLANNED : statOrUndefined(path, follow);
  }

  get #dirPerm(): number {
    return this.#options.mode?.octal ?? 0o755;
  }

  /** Makes the parent directories `destPath` (absolute in the image, slash kept) needs. */
  ensureDestination(destPath: string): void {
    const { dir, base } = splitPath(destPath);
    const ensure = base !== '' && base !== '.' ? dir : destPath;
    if (ensure !== '')
      mkdirAll(rootPath(this.#root, ensure), this.#dirPerm, this.#options.owner, this.#links);
  }

  /** fsutil's Copy for one source: `src` is relative to the tree, `destPath` absolute in the image. */
  copy(tree: SourceTree, src: string, destPath: string): void {
    this.ensureDestination(destPath);
    let dst = rootPath(this.#root, cleanAbs(destPath));
    const followed = resolveInRoot(src, (rel) => tree.kind(rel));
    const srcStat = tree.stat(followed);
    if (!srcStat) throw new NotFoundError(`"/${src}": not found`);
    const srcIsDir = srcStat.type === 'directory';
    const destStat = this.#statTarget(dst, true);
    if (!srcIsDir && destStat?.isDirectory()) dst = `${dst === '/' ? '' : dst}/${basename(`/${src}`)}`;
    const target = srcIsDir && !destStat ? dst : dirnameAbs(dst);
    mkdirAll(target, this.#dirPerm, this.#options.owner, this.#links);
    this.#copy(tree, followed, '', dst, false, undefined, undefined);
  }

  #copy(
    tree: SourceTree,
    src: string,
    components: string,
    target: string,
    overwriteMeta: boolean,
    parentInclude: IgnoreMatchInfo | undefined,
    parentExclude: IgnoreMatchInfo | undefined,
    /** The caller knows nothing is at `target` (a directory it just made, or listed). */
    absent = false,
  ): void {
    let include = true;
    let excluded = false;
    let includeInfo: IgnoreMatchInfo | undefined;
    let excludeInfo: IgnoreMatchInfo | undefined;
    const { include: includes, exclude: excludes } = this.#options;
    if (components !== '') {
      if (includes) {
        const r = includes.matchWithParent(components, parentInclude);
        include = r.excluded;
        includeInfo = r.info;
      }
      if (excludes) {
        const r = excludes.matchWithParent(components, parentExclude);
        excludeInfo = r.info;
        if (r.excluded) {
          include = false;
          excluded = true;
        }
      }
      if (!include && !includes && !(excludes?.hasExclusions ?? false)) return;
    }
    const st = tree.stat(src);
    if (!st) throw new NotFoundError(`failed to stat /${src}: no such file or directory`);
    if (!include && st.type !== 'directory') return;
    const targetStat = absent && !this.#links?.has(target) ? undefined : this.#statTarget(target, false);
    if (include) this.#createParentDirs(tree, overwriteMeta);
    if (st.type !== 'directory') {
      if (targetStat?.isDirectory()) {
        throw new InvalidArgumentError(
          `cannot replace to directory ${target.slice(this.#root.length) || '/'} with file`,
        );
      }
      if (targetStat === PLANNED) this.#links?.drop(target);
      else if (targetStat) unlinkSync(target);
    }
    let copyInfo = include;
    let restoreTime = false;
    /** Whether this entry was made now (else it is a directory that existed, merged into). */
    let fresh = true;
    switch (st.type) {
      case 'directory': {
        const created = this.#copyDirectory(
          tree,
          src,
          components,
          target,
          st,
          overwriteMeta,
          include,
          excluded,
          includeInfo,
          excludeInfo,
        );
        fresh = created;
        if (!overwriteMeta) {
          copyInfo = created;
          restoreTime = !created;
        }
        break;
      }
      case 'file': {
        const linked = st.inode !== undefined ? this.#inodes.get(st.inode) : undefined;
        if (linked !== undefined) {
          linkSync(linked, target);
        } else if (st.inode === undefined && this.#links?.plan(src, st, target)) {
          // linked into the layer after the unmount; its mode and times are the source's own
        } else {
          copyContent(tree.absolute(src), target, st);
          if (st.inode !== undefined) this.#inodes.set(st.inode, target);
        }
        break;
      }
      case 'symlink':
        symlinkSync(st.linkTarget ?? '', target);
        break;
      case 'socket':
        // A socket cannot be copied; BuildKit's context transfer makes it an empty file.
        writeFileSync(target, '');
        break;
      default:
        makeDevice(target, st);
        break;
    }
    this.copied++;
    // a hard link shares the inode of a file already given its info
    if (
      copyInfo &&
      !(st.type === 'file' && st.inode !== undefined && this.#inodes.get(st.inode) !== target)
    ) {
      this.#copyFileInfo(st, target, fresh);
      this.#options.record?.(target, src);
    } else if (restoreTime && targetStat) {
      setTimes(target, st);
      this.#links?.dated(target);
      this.#options.record?.(target, src);
    }
  }

  #createParentDirs(tree: SourceTree, overwriteMeta: boolean): void {
    for (const parent of this.#parents) {
      if (parent.copied) continue;
      const st = tree.stat(parent.src);
      if (st?.type !== 'directory') throw new InvalidArgumentError(`/${parent.src} is not a directory`);
      const created = copyDirectoryOnly(parent.dst, st, overwriteMeta, this.#links);
      if (created) {
        this.#copyFileInfo(st, parent.dst, true);
        this.#options.record?.(parent.dst, parent.src);
      }
      parent.copied = true;
    }
  }

  #copyDirectory(
    tree: SourceTree,
    src: string,
    components: string,
    dst: string,
    st: SourceStat,
    overwriteMeta: boolean,
    include: boolean,
    excluded: boolean,
    includeInfo: IgnoreMatchInfo | undefined,
    excludeInfo: IgnoreMatchInfo | undefined,
  ): boolean {
    let created = false;
    const parent: ParentDir = { src, dst, copied: false };
    if (include) {
      created = copyDirectoryOnly(dst, st, overwriteMeta, this.#links);
      parent.copied = true;
    }
    this.#parents.push(parent);
    try {
      if (excluded && !(this.#options.exclude?.hasExclusions ?? false)) return false;
      // One readdir tells which children exist: no lstat per copied file (none at all when new).
      const existing = created ? undefined : new Set(readdirOrEmpty(dst));
      for (const name of tree.children(src)) {
        this.#copy(
          tree,
          src === '' ? name : `${src}/${name}`,
          components === '' ? name : `${components}/${name}`,
          `${dst === '/' ? '' : dst}/${name}`,
          true,
          includeInfo,
          excludeInfo,
          created || !existing?.has(name),
        );
      }
    } finally {
      this.#parents.pop();
    }
    return created;
  }

  /**
   * fsutil's copyFileInfo: owner, mode and times from the source (or `--chown`/`--chmod`).
   * `fresh` entries were made by this process, so they are root's already; a regular file made
   * by copyContent has its mode and times already too.
   */
  #copyFileInfo(st: SourceStat, target: string, fresh: boolean): void {
    const owner = this.#options.owner ?? { uid: st.uid, gid: st.gid };
    if (!fresh || owner.uid !== 0 || owner.gid !== 0) lchownSync(target, owner.uid, owner.gid);
    const spec = this.#options.mode;
    if (fresh && st.type === 'file' && !spec) return;
    if (st.type !== 'symlink') {
      let mode = st.mode;
      if (spec)
        mode = spec.octal !== undefined ? spec.octal & 0o7777 : spec.apply(st.mode, st.type === 'directory');
      chmodSync(target, mode);
    }
    setTimes(target, st);
    if (st.type === 'directory') this.#links?.dated(target);
  }
}

/**
 * A regular file's bytes, mode and times, in one open of each side (copyFileSync, then chmod and
 * utimes by path, cost half as many syscalls again on 2,000-file contexts).
 */
function copyContent(source: string, target: string, st: SourceStat): void {
  const input = openSync(source, 'r');
  try {
    const output = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      copyFdBytes(input, output);
      fchmodSync(output, st.mode & 0o7777);
      futimesSync(output, st.atimeMs / 1000, st.mtimeMs / 1000);
    } finally {
      closeSync(output);
    }
  } finally {
    closeSync(input);
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
    throw error;
  }
}

function setTimes(target: string, st: SourceStat): void {
  lutimesSync(target, st.atimeMs / 1000, st.mtimeMs / 1000);
}

/** Makes the directory `dst` unless it exists; an existing directory takes the mode when asked. */
function copyDirectoryOnly(
  dst: string,
  st: SourceStat,
  overwriteMeta: boolean,
  links: ContextLinks | undefined,
): boolean {
  const existing = links?.has(dst) ? PLANNED : statOrUndefined(dst, false);
  if (!existing) {
    mkdirSync(dst, { mode: st.mode & 0o777 });
    return true;
  }
  if (!existing.isDirectory()) throw new InvalidArgumentError(`cannot copy to non-directory: ${dst}`);
  if (overwriteMeta) chmodSync(dst, st.mode);
  return false;
}

function makeDevice(target: string, st: SourceStat): void {
  // glibc's major()/minor() of a 32-bit-safe dev_t
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00);
  const args =
    st.type === 'fifo'
      ? [target, 'p']
      : [target, st.type === 'char-device' ? 'c' : 'b', String(major), String(minor)];
  // child_process is loaded only here: a cached build never needs it.
  const { spawnSync } = createRequire(import.meta.url)(
    'node:child_process',
  ) as typeof import('node:child_process');
  const r = spawnSync('mknod', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) {
    throw new InvalidArgumentError(
      `Cannot create ${st.type} ${target}: ${r.stderr?.toString().trim() || 'mknod failed'}`,
    );
  }
}
