/**
 * Docker's path rules for `cp` (moby `pkg/archive/copy.go`, docker/cli `cp.go`), pure: how a
 * trailing `/` or `/.` changes what is copied and where it lands.
 *
 * - `SRC/.` copies the contents of directory SRC, not SRC itself;
 * - a destination that exists as a directory receives SRC inside it (or SRC's contents, for `/.`);
 * - one that exists as a file is overwritten by a file source (a directory source is an error);
 * - one that does not exist is created with the destination's name: a file for a file source
 *   (an error when DEST ends with `/`: the directory must exist), a directory for a directory
 *   source; its parent must exist.
 *
 * Paths here use Go's `path/filepath` semantics (`Clean`, `Dir`, `Base`, `Split`), written out
 * because Node's `path.posix` keeps trailing slashes where Go drops them.
 *
 * @example
 * prepareArchiveCopy({ path: '/src/dir', isDir: true }, { path: '/tmp/new', exists: false });
 * // { dstDir: '/tmp', rebase: { from: 'dir', to: 'new' } }
 */
import { FailedPreconditionError, InvalidArgumentError } from '../../errors/index.ts';

/** Go's filepath.Clean. */
export function goClean(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's filepath.Base: the last element, trailing slashes removed; `/` for the root, `.` for ''. */
export function goBase(path: string): string {
  if (path === '') return '.';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** Go's filepath.Dir: all but the last element, cleaned. */
export function goDir(path: string): string {
  const slash = path.lastIndexOf('/');
  return goClean(slash < 0 ? '' : path.slice(0, slash + 1));
}

/** Go's filepath.Split: [dir with its trailing slash, file]. */
export function goSplit(path: string): [string, string] {
  const slash = path.lastIndexOf('/');
  return [path.slice(0, slash + 1), path.slice(slash + 1)];
}

export function hasTrailingPathSeparator(path: string): boolean {
  return path.length > 0 && path.endsWith('/');
}

/** The path's last element is `.` (`dir/.`): copy the contents. */
export function specifiesCurrentDir(path: string): boolean {
  return goBase(path) === '.';
}

/** The path ends with `/` or `/.`: it must be (or become) a directory. */
export function assertsDirectory(path: string): boolean {
  return hasTrailingPathSeparator(path) || specifiesCurrentDir(path);
}

/** Puts back the trailing `/.` or `/` of `original` that cleaning removed from `cleaned`. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  if (!specifiesCurrentDir(cleaned) && specifiesCurrentDir(original)) {
    if (!hasTrailingPathSeparator(cleaned)) cleaned += '/';
    cleaned += '.';
  }
  if (!hasTrailingPathSeparator(cleaned) && hasTrailingPathSeparator(original)) cleaned += '/';
  return cleaned;
}

/** [directory, base] of a path, keeping `.` as the base of `dir/.` (moby's SplitPathDirEntry). */
export function splitPathDirEntry(path: string): [string, string] {
  let cleaned = goClean(path);
  if (specifiesCurrentDir(path)) cleaned += '/.';
  return [goDir(cleaned), goBase(cleaned)];
}

/**
 * After resolving a symlink in `path` to `resolved`: keep the trailing `/` or `/.` of the
 * request, and the name to give the archive's top entry when the resolution changed it.
 */
export function getRebaseName(
  path: string,
  resolved: string,
): { resolved: string; rebaseName: string | undefined } {
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(resolved)) resolved += '/.';
  if (hasTrailingPathSeparator(path) && !hasTrailingPathSeparator(resolved)) resolved += '/';
  return { resolved, rebaseName: goBase(path) !== goBase(resolved) ? goBase(path) : undefined };
}

/** A container path as absolute, keeping a trailing `/` or `/.` (the daemon's view of `cp` paths). */
export function containerAbsPath(path: string): string {
  return preserveTrailingDotOrSeparator(goClean(`/${path}`), path);
}

export interface CopySource {
  path: string;
  isDir: boolean;
  /** The name the top entry must get (set when a symlink was followed). */
  rebaseName?: string | undefined;
}

export interface CopyDestination {
  path: string;
  exists: boolean;
  isDir?: boolean;
}

export interface ArchiveCopyPlan {
  /** The directory to extract into. */
  dstDir: string;
  /** Rename the archive's top entry (`from` -> `to`) before extracting. */
  rebase?: { from: string; to: string };
}

/**
 * Where an archive of `src` must be extracted, and how its top entry must be renamed, to copy
 * `src` to `dst` (moby's PrepareArchiveCopy). Throws Docker's errors for impossible copies.
 */
export function prepareArchiveCopy(src: CopySource, dst: CopyDestination): ArchiveCopyPlan {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  const [, srcBaseRaw] = splitPathDirEntry(src.path);
  const srcBase = src.rebaseName ?? srcBaseRaw;
  if (dst.exists && dst.isDir) return { dstDir: dst.path };
  if (dst.exists && src.isDir) throw new InvalidArgumentError('cannot copy directory to a file');
  if (dst.exists || src.isDir) return { dstDir, rebase: { from: srcBase, to: dstBase } };
  if (assertsDirectory(dst.path)) throw new FailedPreconditionError('destination directory does not exist');
  return { dstDir, rebase: { from: srcBase, to: dstBase } };
}

/**
 * Splits a `cp` argument: `CONTAINER:PATH`, or a local path. A path that starts with `/` or `.`
 * is local even with a colon in it (docker/cli's splitCpArg).
 */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon < 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

/** Go's os.FileMode bits of a stat result (`X-Docker-Container-Path-Stat`'s `mode`). */
export function goFileMode(mode: number): number {
  // Above bit 31: plain arithmetic, not `|` (JavaScript's bitwise operators are 32-bit signed).
  const typeBits = new Map<number, number>([
    [0x4000, 2 ** 31], // S_IFDIR: ModeDir
    [0xa000, 2 ** 27], // S_IFLNK: ModeSymlink
    [0x6000, 2 ** 26], // S_IFBLK: ModeDevice
    [0x2000, 2 ** 26 + 2 ** 21], // S_IFCHR: ModeDevice | ModeCharDevice
    [0x1000, 2 ** 25], // S_IFIFO: ModeNamedPipe
    [0xc000, 2 ** 24], // S_IFSOCK: ModeSocket
  ]);
  let out = (mode & 0o777) + (typeBits.get(mode & 0xf000) ?? 0);
  if (mode & 0o4000) out += 2 ** 23; // ModeSetuid
  if (mode & 0o2000) out += 2 ** 22; // ModeSetgid
  if (mode & 0o1000) out += 2 ** 20; // ModeSticky
  return out;
}

/** Whether a Go FileMode names a directory. */
export function goModeIsDir(mode: number): boolean {
  return mode >= 2 ** 31;
}

/** Whether a Go FileMode names a symlink. */
export function goModeIsSymlink(mode: number): boolean {
  return Math.floor(mode / 2 ** 27) % 2 === 1;
}
