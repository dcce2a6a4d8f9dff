/**
 * A tar archive of one entry of a rooted tree (and everything below it when it is a directory),
 * read through descriptors only (see rooted-fs.ts): what `docker cp CONTAINER:PATH`, `docker
 * export` and the seeding of a new volume from its image produce.
 *
 * The walk opens each entry once (O_PATH | O_NOFOLLOW), reads its metadata and, for regular files,
 * its data through that same descriptor: a container renaming or replacing files meanwhile changes
 * what is archived, never where it is read from. Directories come before their contents, names in
 * bytewise order. Hardlinked files are archived once and linked after (by device and inode).
 * Extended attributes are read in batches (one getfattr for up to 256 entries). A file that
 * shrinks while being read is padded with zeros to the size its header announced; one that grows
 * is cut there, as Go's archive/tar does.
 *
 * @example
 * const entry = root.lookup('/etc', { follow: false });
 * for await (const chunk of archiveEntry(root, entry, { name: 'etc' })) out.write(chunk);
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { InternalError, isErrno } from '../../errors/index.ts';
import {
  encodeTarHeader,
  TAR_TRAILER,
  type TarEntryType,
  type TarHeader,
  tarPadding,
} from '../../image/layer/tar-format.ts';
import { readFdXattrs, type XattrMap } from './fd-xattrs.ts';
import { childFdPath, type DirFrame, fdPath, type Lookup, O_PATH, type RootedFs } from './rooted-fs.ts';

export interface ArchiveOptions {
  /**
   * The top entry's name in the archive: a base name (`etc`), or `.` to archive a directory as
   * `./` and `./CHILD…` (Docker's `SRC/.`).
   */
  name: string;
  /** Read extended attributes (default true). */
  xattrs?: boolean;
  /** Skip the top entry itself (export: the root directory has no entry). */
  skipTop?: boolean;
  signal?: AbortSignal;
  /** Told the size of each regular file archived (for `cp`'s byte count). */
  onFile?: (size: number) => void;
}

interface WalkRecord {
  name: string;
  /** O_PATH descriptor owned by the record. */
  fd: number;
  stats: Stats;
  linkTarget: string;
}

const BATCH = 256;
const CHUNK = 1024 * 1024;

/** The archive of `entry` (an existing lookup of `root`; it stays owned by the caller). */
export async function* archiveEntry(
  root: RootedFs,
  entry: Lookup,
  options: ArchiveOptions,
): AsyncGenerator<Buffer> {
  if (entry.fd === undefined || entry.stats === undefined) {
    throw new InternalError(`Cannot archive /${entry.rel}: it does not exist`);
  }
  const records = walk(root, entry, options);
  const pending: WalkRecord[] = [];
  const links = new Map<string, string>();
  try {
    for (;;) {
      while (pending.length < BATCH) {
        const next = records.next();
        if (next.done) break;
        pending.push(next.value);
      }
      if (pending.length === 0) break;
      options.signal?.throwIfAborted();
      const xattrs =
        options.xattrs === false
          ? new Map<string, XattrMap>()
          : await readFdXattrs(
              pending.filter((r) => !r.stats.isSymbolicLink()).map((r) => childFdPath(r.fd)),
            );
      while (pending.length > 0) {
        const record = pending.shift()!;
        try {
          yield* emit(root, record, xattrs.get(childFdPath(record.fd)), links, options);
        } finally {
          closeSync(record.fd);
        }
      }
    }
    yield TAR_TRAILER;
  } finally {
    for (const record of pending) closeSync(record.fd);
    records.return(undefined);
  }
}

/** Entries depth first, each with its own descriptor; directory frames closed as the walk leaves them. */
function* walk(
  root: RootedFs,
  entry: Lookup,
  options: ArchiveOptions,
): Generator<WalkRecord, void, undefined> {
  // A descriptor of its own for the top entry (mount-aware, through its directory when it has a name).
  const top =
    entry.name === undefined
      ? { fd: openSync(fdPath(entry.fd!), O_PATH | constants.O_DIRECTORY), readonly: entry.readonly }
      : root.openChild(entry.dir, entry.name);
  if (!top) return; // gone since the lookup
  const stats = fstatSync(top.fd);
  let linkTarget = '';
  if (stats.isSymbolicLink() && entry.name !== undefined) {
    try {
      linkTarget = readlinkSync(fdPath(entry.dir.fd, entry.name));
    } catch (error) {
      root.closeFd(top.fd);
      if (isErrno(error, 'EINVAL') || isErrno(error, 'ENOENT')) return;
      throw error;
    }
  }
  const topName = options.name === '.' ? '.' : options.name.replace(/\/+$/, '') || '.';
  let frame: DirFrame | undefined;
  try {
    if (stats.isDirectory()) {
      frame = {
        fd: openSync(fdPath(top.fd), O_PATH | constants.O_DIRECTORY),
        rel: entry.rel,
        readonly: top.readonly,
      };
    }
  } catch (error) {
    root.closeFd(top.fd);
    throw error;
  }
  if (options.skipTop) root.closeFd(top.fd);
  else yield { name: topName, fd: top.fd, stats, linkTarget };
  if (!frame) return;
  try {
    yield* walkDir(root, frame, options.skipTop ? '' : `${topName}/`);
  } finally {
    root.closeFd(frame.fd);
  }
}

function* walkDir(root: RootedFs, frame: DirFrame, prefix: string): Generator<WalkRecord, void, undefined> {
  for (const name of root.readdir(frame)) {
    const child = root.openChild(frame, name);
    if (!child) continue; // gone since the listing
    const { stats } = child;
    if (stats.isSocket()) {
      root.closeFd(child.fd);
      continue;
    }
    let linkTarget = '';
    if (stats.isSymbolicLink()) {
      try {
        linkTarget = readlinkSync(fdPath(frame.fd, name));
      } catch (error) {
        root.closeFd(child.fd);
        if (isErrno(error, 'EINVAL') || isErrno(error, 'ENOENT')) continue; // replaced meanwhile
        throw error;
      }
    }
    const archiveName = `${prefix}${name}`;
    if (!stats.isDirectory()) {
      yield { name: archiveName, fd: child.fd, stats, linkTarget };
      continue;
    }
    const sub: DirFrame = {
      fd: openSync(fdPath(child.fd), O_PATH | constants.O_DIRECTORY),
      rel: frame.rel === '' ? name : `${frame.rel}/${name}`,
      readonly: child.readonly,
    };
    try {
      yield { name: archiveName, fd: child.fd, stats, linkTarget };
      yield* walkDir(root, sub, `${archiveName}/`);
    } finally {
      root.closeFd(sub.fd);
    }
  }
}

function* emit(
  root: RootedFs,
  record: WalkRecord,
  xattrs: XattrMap | undefined,
  links: Map<string, string>,
  options: ArchiveOptions,
): Generator<Buffer> {
  const { stats } = record;
  const type = typeOf(stats);
  if (!type) return;
  const header: TarHeader = {
    name: type === 'dir' ? `${record.name}/` : record.name,
    type,
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    size: type === 'file' ? stats.size : 0,
    mtime: Math.floor(stats.mtimeMs / 1000),
    linkname: record.linkTarget,
    devmajor: 0,
    devminor: 0,
    xattrs: xattrs ?? new Map(),
  };
  if (type === 'char' || type === 'block') {
    const rdev = stats.rdev;
    header.devmajor = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
    header.devminor = ((rdev & 0xff) | ((rdev >>> 12) & ~0xff)) >>> 0;
  }
  if (type === 'file' && stats.nlink > 1) {
    const key = `${stats.dev}:${stats.ino}`;
    const first = links.get(key);
    if (first !== undefined) {
      header.type = 'link';
      header.linkname = first;
      header.size = 0;
    } else links.set(key, record.name);
  }
  yield encodeTarHeader(header);
  if (header.type !== 'file' || header.size === 0) return;
  options.onFile?.(header.size);
  const fd = root.openForRead(record.fd);
  try {
    let left = header.size;
    let eof = false;
    while (left > 0) {
      const buffer = Buffer.alloc(Math.min(left, CHUNK));
      let filled = 0;
      while (!eof && filled < buffer.length) {
        const n = readSync(fd, buffer, filled, buffer.length - filled, null);
        if (n === 0) eof = true;
        filled += n;
      }
      // Past the end of a file that shrank, the buffer's zeros stand in.
      left -= buffer.length;
      yield buffer;
    }
  } finally {
    closeSync(fd);
  }
  const padding = tarPadding(header.size);
  if (padding.length > 0) yield padding;
}

function typeOf(stats: Stats): Exclude<TarEntryType, 'link'> | undefined {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  if (stats.isFIFO()) return 'fifo';
  return undefined;
}
