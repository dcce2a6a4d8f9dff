/**
 * The build context as BuildKit sees it: the files of a context directory minus what
 * `.dockerignore` excludes, walked the way tonistiigi/fsutil's filtered walker walks it, and
 * paths resolved inside the context without ever following a symlink out of it.
 *
 * Walk order is fsutil's (Go's filepath.WalkDir): depth first, a directory before its contents,
 * siblings sorted by the bytes of their names; so `a`, `a/b`, `a.txt`. An excluded directory is
 * not listed; when an exception (`!`) re-includes something inside it, the directory is listed
 * just before its first included child, and only then.
 */
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidArgumentError, isErrno, NotFoundError } from '../errors/index.ts';
import { DockerIgnore, type IgnoreMatchInfo } from './dockerignore.ts';

export type ContextEntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'fifo'
  | 'socket'
  | 'char-device'
  | 'block-device';

/** One file of the build context, described from lstat (links are never followed). */
export interface ContextEntry {
  /** Relative to the context root, `/`-separated, no leading `./` or `/`. */
  path: string;
  type: ContextEntryType;
  /** Permission bits with setuid, setgid and sticky (`st_mode & 0o7777`). */
  mode: number;
  /** Bytes for files, the target's length for symlinks, as lstat reports for directories. */
  size: number;
  /** Modification time in nanoseconds since the epoch. */
  mtimeNs: bigint;
  uid: number;
  gid: number;
  /** Device and inode: with size and mtime, the key of a file-digest cache. */
  dev: bigint;
  ino: bigint;
  nlink: number;
  /** The link's target as stored, for symlinks. */
  linkTarget?: string;
  /** For a file with several names in the context: the path of its first name (a tar hardlink). */
  hardlinkTo?: string;
  /** Device number, for character and block devices. */
  rdev?: bigint;
}

export interface WalkOptions {
  /** The ignore rules; none when absent. */
  ignore?: DockerIgnore;
  signal?: AbortSignal;
}

/** The longest chain of symlinks followed while resolving one path (Linux's limit is 40; Go's securejoin uses 255). */
const MAX_LINKS = 255;

function entryType(stats: BigIntStats): ContextEntryType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'char-device';
  return 'block-device';
}

/** Go sorts directory entries by the bytes of their names, not by UTF-16 code units. */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Lists the build context under `root` (symlinks to it are resolved first), honouring the
 * ignore rules as BuildKit does.
 *
 * @example
 * const ignore = await DockerIgnore.load('/src/app', { dockerfile: '/src/app/Dockerfile' });
 * const entries = await walkBuildContext('/src/app', { ignore });
 * entries.map((e) => `${e.type} ${e.path}`); // ['directory src', 'file src/main.ts', 'file package.json']
 */
export async function walkBuildContext(root: string, options: WalkOptions = {}): Promise<ContextEntry[]> {
  const ignore = options.ignore ?? DockerIgnore.empty();
  let top: string;
  try {
    top = await realpath(root);
    if (!(await lstat(top)).isDirectory()) {
      throw new InvalidArgumentError(`Cannot read the build context: ${root} is not a directory`);
    }
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) {
      throw new NotFoundError(`Cannot read the build context: ${root} does not exist`, { cause: error });
    }
    throw error;
  }

  const entries: ContextEntry[] = [];
  const firstNames = new Map<string, string>();
  /** Excluded directories on the current path, listed only if something below is included. */
  const pending: { entry: ContextEntry; listed: boolean }[] = [];

  const describe = async (rel: string, stats: BigIntStats): Promise<ContextEntry> => {
    const type = entryType(stats);
    const entry: ContextEntry = {
      path: rel,
      type,
      mode: Number(stats.mode & 0o7777n),
      size: Number(stats.size),
      mtimeNs: stats.mtimeNs,
      uid: Number(stats.uid),
      gid: Number(stats.gid),
      dev: stats.dev,
      ino: stats.ino,
      nlink: Number(stats.nlink),
    };
    if (type === 'symlink') entry.linkTarget = await readlink(join(top, rel));
    if (type === 'char-device' || type === 'block-device') entry.rdev = stats.rdev;
    if (type !== 'directory' && entry.nlink > 1) {
      const key = `${stats.dev}:${stats.ino}`;
      const first = firstNames.get(key);
      if (first === undefined) firstNames.set(key, rel);
      else entry.hardlinkTo = first;
    }
    return entry;
  };

  const list = (entry: ContextEntry): void => {
    for (const parent of pending) {
      if (!parent.listed) {
        entries.push(parent.entry);
        parent.listed = true;
      }
    }
    entries.push(entry);
  };

  const walk = async (dirRel: string, parentInfo: IgnoreMatchInfo | undefined, excludedDir: boolean) => {
    options.signal?.throwIfAborted();
    let names: string[];
    try {
      names = await readdir(dirRel === '' ? top : join(top, dirRel));
    } catch (error) {
      // fsutil skips an unreadable directory when it is excluded anyway.
      if (excludedDir && isErrno(error, 'EACCES')) return;
      throw error;
    }
    names.sort(byBytes);
    // One directory's entries are stat'ed together; the walk itself stays in order.
    const allStats = await Promise.all(
      names.map(async (name) => {
        try {
          return await lstat(join(top, dirRel === '' ? name : `${dirRel}/${name}`), { bigint: true });
        } catch (error) {
          if (isErrno(error, 'ENOENT')) return undefined; // removed while walking
          throw error;
        }
      }),
    );
    for (const [i, name] of names.entries()) {
      const stats = allStats[i];
      if (stats === undefined) continue;
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const isDir = stats.isDirectory();
      const { excluded, info } = ignore.matchWithParent(rel, parentInfo);
      if (excluded) {
        if (!isDir || ignore.canSkipExcludedDir(rel)) continue;
        pending.push({ entry: await describe(rel, stats), listed: false });
        await walk(rel, info, true);
        pending.pop();
        continue;
      }
      const entry = await describe(rel, stats);
      list(entry);
      if (isDir) {
        pending.push({ entry, listed: true });
        await walk(rel, info, false);
        pending.pop();
      }
    }
  };

  await walk('', undefined, false);
  return entries;
}

/** A path resolved inside the context. */
export interface ResolvedContextPath {
  /** Relative to the context root, `/`-separated; `.` for the root itself. */
  path: string;
  /** The absolute path on disk. */
  absolute: string;
}

/**
 * Resolves `path` inside the context directory `root` the way BuildKit resolves COPY sources:
 * symlinks along the way are followed, but always within the root (an absolute target starts
 * again at the root, and `..` stops at the root), so the result never leaves the context.
 * Components that do not exist are kept as written. The requested path itself must stay inside:
 * `../x` is an error naming it.
 *
 * @example
 * // with ctx/link -> /etc (absolute) and ctx/etc/app.conf
 * await resolveInContext('ctx', 'link/app.conf'); // { path: 'etc/app.conf', absolute: '/.../ctx/etc/app.conf' }
 * await resolveInContext('ctx', '../secret');     // throws InvalidArgumentError
 */
export async function resolveInContext(
  root: string,
  path: string,
  options: { followFinalLink?: boolean } = {},
): Promise<ResolvedContextPath> {
  const followFinal = options.followFinalLink ?? true;
  const top = await realpath(root);
  const requested = posix.normalize(path.replace(/^\/+/, '') || '.');
  if (requested === '..' || requested.startsWith('../')) {
    throw new InvalidArgumentError(
      `Cannot resolve ${JSON.stringify(path)} in the build context: it is outside the context directory`,
    );
  }

  const resolved: string[] = [];
  let remaining = requested.split('/').filter((part) => part !== '' && part !== '.');
  let links = 0;
  while (remaining.length > 0) {
    const [part, ...rest] = remaining as [string, ...string[]];
    remaining = rest;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      resolved.pop(); // never above the root
      continue;
    }
    const candidate = [...resolved, part].join('/');
    let stats: BigIntStats | undefined;
    try {
      stats = await lstat(join(top, candidate), { bigint: true });
    } catch (error) {
      if (!isErrno(error, 'ENOENT') && !isErrno(error, 'ENOTDIR')) throw error;
    }
    if (stats === undefined) {
      // Missing: the rest is kept lexically (it may be created later, or the caller reports it).
      resolved.push(part, ...remaining.filter((p) => p !== '.'));
      remaining = [];
      break;
    }
    if (stats.isSymbolicLink() && (rest.length > 0 || followFinal)) {
      if (++links > MAX_LINKS) {
        throw new InvalidArgumentError(
          `Cannot resolve ${JSON.stringify(path)} in the build context: too many levels of symbolic links`,
        );
      }
      const target = await readlink(join(top, candidate));
      if (target.startsWith('/')) resolved.length = 0;
      remaining = [...target.split('/'), ...rest];
      continue;
    }
    resolved.push(part);
  }
  const rel = posix.normalize(resolved.join('/') || '.');
  // `..` left in a missing tail is clamped too: the result never leaves the root.
  const clean = posix.join('/', rel).slice(1) || '.';
  return { path: clean, absolute: clean === '.' ? top : join(top, clean) };
}
