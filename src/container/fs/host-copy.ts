/**
 * The host side of `docker cp` (docker/cli and moby's `pkg/archive/copy.go`): what a local
 * source or destination path is once its symlinks are followed, a tar of a local source, and the
 * extraction of a container's archive into a local directory (owned by whoever runs `cp`, as
 * Docker's `NoLchown`, and never outside that directory).
 *
 * @example
 * const dst = copyInfoDestinationPath('/tmp/out');
 * const plan = prepareArchiveCopy(src, dst);
 * await extractToHost(plan.dstDir, tar);
 */
import { readlinkSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, isErrno, NotFoundError } from '../../errors/index.ts';
import { lstatOrUndefined } from '../../util/sync-fs.ts';
import { type ExtractResult, extractArchive } from './archive-extractor.ts';
import { archiveEntry } from './archive-writer.ts';
import {
  type CopyDestination,
  type CopySource,
  getRebaseName,
  goBase,
  goClean,
  goSplit,
  hasTrailingPathSeparator,
  preserveTrailingDotOrSeparator,
  splitPathDirEntry,
} from './copy-paths.ts';
import { RootedFs } from './rooted-fs.ts';

/** A local path made absolute (from the working directory), keeping a trailing `/` or `/.`. */
export function resolveLocalPath(path: string): string {
  return preserveTrailingDotOrSeparator(resolvePath(path), path);
}

/**
 * moby's CopyInfoDestinationPath: the destination with its final symlinks followed (up to 10);
 * a missing destination needs an existing parent directory.
 */
export function copyInfoDestinationPath(path: string): CopyDestination {
  let current = path;
  let stats = lstatOrUndefined(current);
  for (let n = 0; stats?.isSymbolicLink(); n++) {
    if (n > 10) throw new InvalidArgumentError(`too many symlinks in ${path}`);
    let target = readlinkSync(current);
    if (!isAbsolute(target)) target = goClean(`${splitPathDirEntry(current)[0]}/${target}`);
    current = target;
    stats = lstatOrUndefined(current);
  }
  if (stats) return { path: current, exists: true, isDir: stats.isDirectory() };
  const [parent] = splitPathDirEntry(current);
  let parentStats: ReturnType<typeof statSync>;
  try {
    parentStats = statSync(parent);
  } catch (error) {
    if (isErrno(error, 'ENOENT'))
      throw new NotFoundError(`Cannot copy to ${path}: ${parent}: no such directory`);
    throw error;
  }
  if (!parentStats.isDirectory())
    throw new FailedPreconditionError(`Cannot copy to ${path}: ${parent} is not a directory`);
  return { path: current, exists: false };
}

/**
 * moby's CopyInfoSourcePath: a local source with the symlinks of its directory followed (and its
 * last element too with `followLink`), and the name its archive entry must keep.
 */
export function copyInfoSourcePath(path: string, followLink: boolean): CopySource {
  let resolved: string;
  let rebaseName: string | undefined;
  try {
    if (followLink) {
      ({ resolved, rebaseName } = getRebaseName(path, realpathSync(path)));
    } else {
      const [dir, base] = goSplit(path);
      resolved = `${realpathSync(dir === '' ? '.' : dir).replace(/\/$/, '')}/${base}`;
      if (hasTrailingPathSeparator(path) && goBase(path) !== goBase(resolved)) rebaseName = goBase(path);
    }
  } catch (error) {
    if (isErrno(error, 'ENOENT')) throw new NotFoundError(`Cannot copy ${path}: no such file or directory`);
    throw error;
  }
  const stats = lstatOrUndefined(resolved);
  if (!stats) throw new NotFoundError(`Cannot copy ${path}: no such file or directory`);
  // A trailing slash asks for a directory (the kernel follows a link there).
  const isDir =
    stats.isDirectory() || (hasTrailingPathSeparator(resolved) && statSync(resolved).isDirectory());
  if (hasTrailingPathSeparator(path) && !isDir)
    throw new FailedPreconditionError(`Cannot copy ${path}: not a directory`);
  return { path: resolved, isDir, ...(rebaseName ? { rebaseName } : {}) };
}

/** The tar of a local source (moby's TarResource): its top entry named after it, or `rebaseName`. */
export async function* archiveHostPath(source: CopySource): AsyncGenerator<Buffer> {
  const [dir, base] = splitPathDirEntry(source.path);
  const root = RootedFs.open(dir);
  try {
    const found = root.lookup(base === '.' ? '/' : `/${base}`, { follow: false });
    try {
      if (!found.exists) throw new NotFoundError(`Cannot copy ${source.path}: no such file or directory`);
      yield* archiveEntry(root, found, { name: base === '.' ? '.' : (source.rebaseName ?? base) });
    } finally {
      found.close();
    }
  } finally {
    root.close();
  }
}

/** Extracts a container's archive into local directory `dir` (Docker's NoLchown, NoOverwriteDirNonDir). */
export async function extractToHost(dir: string, source: AsyncIterable<Uint8Array>): Promise<ExtractResult> {
  const root = RootedFs.open(dir);
  try {
    return await extractArchive(root, '/', source, { noLchown: true, noOverwriteDirNonDir: true });
  } finally {
    root.close();
  }
}
