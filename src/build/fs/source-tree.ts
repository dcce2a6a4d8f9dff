/**
 * Where COPY reads from: the build context (through its index, so ignored files do not exist and
 * owners read as 0:0, as BuildKit's context transfer resets them) or the root filesystem of
 * another stage or image (a mounted snapshot read as it is). Both answer the same questions, so
 * one copier serves `COPY`, `COPY --from` and `ADD`.
 *
 * @example
 * const tree = new ContextTree(index);
 * tree.stat('src/main.ts')?.mode;
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { isErrno } from '../../errors/index.ts';
import type { PathKind } from '../../image/layer/root-path.ts';
import type { ContextFileType, ContextIndex } from '../context/context-index.ts';
import { diskPathKind } from './root-path.ts';
import { sortByBytes } from './sort-by-bytes.ts';

export interface SourceStat {
  type: ContextFileType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  atimeMs: number;
  rdev: number;
  linkTarget?: string;
  /** Device and inode, for hard links; only set for regular files with more than one name. */
  inode?: string;
}

export interface SourceTree {
  /** For root-path resolution. */
  kind(rel: string): PathKind;
  stat(rel: string): SourceStat | undefined;
  /** Child names of a directory, sorted by bytes. */
  children(rel: string): readonly string[];
  /** The file on disk holding `rel`'s bytes. */
  absolute(rel: string): string;
}

/** The build context, as BuildKit receives it. */
export class ContextTree implements SourceTree {
  readonly index: ContextIndex;

  constructor(index: ContextIndex) {
    this.index = index;
  }

  kind(rel: string): PathKind {
    return this.index.kind(rel);
  }

  stat(rel: string): SourceStat | undefined {
    const e = this.index.get(rel);
    if (!e) return undefined;
    const stat: SourceStat = {
      type: e.type,
      mode: e.mode,
      uid: 0,
      gid: 0,
      size: e.size,
      mtimeMs: e.mtimeMs,
      atimeMs: e.mtimeMs,
      rdev: e.rdev,
    };
    if (e.linkTarget !== undefined) stat.linkTarget = e.linkTarget;
    // inodes with several names in the context are copied as hard links of the first
    if (e.type === 'file' && this.index.sharesInode(e)) stat.inode = `${e.dev}:${e.ino}`;
    return stat;
  }

  children(rel: string): readonly string[] {
    return this.index.children(rel);
  }

  absolute(rel: string): string {
    return this.index.absolute(rel);
  }
}

function typeOf(st: Stats): ContextFileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char-device';
  return 'block-device';
}

/** A root filesystem on disk (another stage's or an image's, mounted read-only). */
export class DiskTree implements SourceTree {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  absolute(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  kind(rel: string): PathKind {
    return diskPathKind(this.root, rel);
  }

  stat(rel: string): SourceStat | undefined {
    let st: Stats;
    try {
      st = lstatSync(this.absolute(rel));
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
      throw error;
    }
    const stat: SourceStat = {
      type: typeOf(st),
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      mtimeMs: st.mtimeMs,
      atimeMs: st.atimeMs,
      rdev: st.rdev,
    };
    if (stat.type === 'symlink') stat.linkTarget = readlinkSync(this.absolute(rel));
    if (stat.type === 'file' && st.nlink > 1) stat.inode = `${st.dev}:${st.ino}`;
    return stat;
  }

  children(rel: string): readonly string[] {
    return sortByBytes(readdirSync(this.absolute(rel)));
  }
}
