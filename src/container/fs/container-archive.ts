/**
 * The daemon side of `docker cp` over a rooted tree (a container's root, opened by
 * container-root.ts): stat a path (`HEAD /containers/ID/archive`), archive it (`GET`), extract
 * an archive into it (`PUT`), with moby's resolution rules: the path is absolute in the
 * container; its directory is resolved with every symlink followed inside the root, its last
 * element is not (so `cp ctr:/link .` copies the link), except for extraction, whose target
 * directory is fully resolved (so a link to a directory can receive files).
 *
 * @example
 * const { stat, stream } = getArchive(root, '/etc/.');
 */
import { NotFoundError } from '../../errors/index.ts';
import { type ExtractOptions, type ExtractResult, extractArchive } from './archive-extractor.ts';
import { archiveEntry } from './archive-writer.ts';
import { containerAbsPath, goBase, goFileMode, goSplit } from './copy-paths.ts';
import type { Lookup, RootedFs } from './rooted-fs.ts';

/** What `X-Docker-Container-Path-Stat` carries (Docker's ContainerPathStat). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode (directory is bit 31). */
  mode: number;
  /** RFC 3339. */
  mtime: string;
  /** For a symlink: its target fully resolved inside the container, absolute. */
  linkTarget: string;
}

/** moby's ResolvePath: the directory resolved in the root, the last element kept as is. */
function lookupForCopy(root: RootedFs, path: string): Lookup {
  const absPath = containerAbsPath(path);
  const [dir, base] = goSplit(absPath);
  try {
    if (base === '' || base === '.') return root.lookup(dir, { follow: true });
    return root.lookup(`${dir}${base}`, { follow: false });
  } catch (error) {
    if (error instanceof NotFoundError) throw notFound(path);
    throw error;
  }
}

function notFound(path: string): NotFoundError {
  return new NotFoundError(`Could not find the file ${path} in container`);
}

function statOf(root: RootedFs, path: string, found: Lookup): PathStat {
  const stats = found.stats!;
  let linkTarget = '';
  if (stats.isSymbolicLink()) {
    const resolved = root.lookup(containerAbsPath(path), { follow: true, lenient: true });
    linkTarget = `/${resolved.rel}`;
    resolved.close();
  }
  return {
    name: goBase(containerAbsPath(path)),
    size: stats.size,
    mode: goFileMode(stats.mode),
    mtime: new Date(stats.mtimeMs).toISOString(),
    linkTarget,
  };
}

/** Stats `path` in the container (NotFoundError when it does not exist). */
export function statPath(root: RootedFs, path: string): PathStat {
  const found = lookupForCopy(root, path);
  try {
    if (!found.exists) throw notFound(path);
    return statOf(root, path, found);
  } finally {
    found.close();
  }
}

/**
 * The archive of `path` (its top entry named after the path's last element, `.` for `dir/.`)
 * and its stat. The stream closes what it opened when it ends; `close` does it for a stream
 * never read. The root must stay open until then.
 */
export function getArchive(
  root: RootedFs,
  path: string,
  options: { signal?: AbortSignal; onFile?: (size: number) => void } = {},
): { stat: PathStat; stream: AsyncGenerator<Buffer>; close: () => void } {
  const found = lookupForCopy(root, path);
  let stat: PathStat;
  try {
    if (!found.exists) throw notFound(path);
    stat = statOf(root, path, found);
  } catch (error) {
    found.close();
    throw error;
  }
  const base = goBase(containerAbsPath(path));
  const name = base === '/' ? '.' : base;
  async function* stream(): AsyncGenerator<Buffer> {
    try {
      yield* archiveEntry(root, found, {
        name,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onFile ? { onFile: options.onFile } : {}),
      });
    } finally {
      found.close();
    }
  }
  return { stat, stream: stream(), close: () => found.close() };
}

/** Extracts an archive into directory `path` of the container (a final symlink is followed). */
export function putArchive(
  root: RootedFs,
  path: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  return extractArchive(root, containerAbsPath(path), source, options);
}
