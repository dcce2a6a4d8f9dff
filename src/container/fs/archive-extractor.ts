/**
 * Extracting a tar archive into a directory of a rooted tree, through descriptors only (see
 * rooted-fs.ts): `docker cp SRC CONTAINER:DEST` on the container side, the host side of
 * `docker cp CONTAINER:SRC DEST`, and the seeding of a volume.
 *
 * Each entry's parent directory is resolved inside the root (symlinks followed as if the root
 * were `/`, as Docker's chrooted extraction does; missing parents are made 0755), and the entry
 * is created in that directory's descriptor with calls that never follow a final symlink:
 * `O_CREAT | O_EXCL | O_NOFOLLOW` for files (so a link planted meanwhile makes the copy fail, it
 * is never written through), `mkdir`, `symlink`, `link` of entries resolved the same way, and
 * `mknod` by the tool on `/proc/PID/fd/DIR/NAME`. An existing entry is replaced, except a
 * directory by a directory (merged); with `noOverwriteDirNonDir` replacing a directory by a file
 * or the reverse is refused, as Docker's `cp` does. Owners, modes and extended attributes are set
 * through the new entry's own descriptor; directory times last, deepest first.
 *
 * @example
 * await extractArchive(root, '/tmp/dest', tarStream, { chown: { uid: 0, gid: 0 } });
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  isErrno,
  NotFoundError,
  PermissionDeniedError,
} from '../../errors/index.ts';
import { openDecompressed } from '../../image/layer/compression.ts';
import { cleanRelative } from '../../image/layer/root-path.ts';
import type { TarHeader } from '../../image/layer/tar-format.ts';
import { TarReader } from '../../image/layer/tar-reader.ts';
import { writeFdXattrs, type XattrMap } from './fd-xattrs.ts';
import { childFdPath, type DirFrame, fdPath, type Lookup, O_PATH, type RootedFs } from './rooted-fs.ts';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_RDONLY } = constants;

export interface ExtractOptions {
  /** Keep the owner the extracting process gives (the host side of `cp`). */
  noLchown?: boolean;
  /** One owner for every entry instead of the archive's (`cp` into a container without `-a`). */
  chown?: { uid: number; gid: number };
  /** Refuse to replace a directory by a non-directory or the reverse (Docker's `cp`). */
  noOverwriteDirNonDir?: boolean;
  /**
   * Give the extraction directory the archive's `./` owner and mode (seeding a volume, as
   * Docker's copyOwnership). Docker's `cp` leaves the directory as it is (the default).
   */
  rootMetadata?: boolean;
  signal?: AbortSignal;
}

export interface ExtractResult {
  entries: number;
  /** Bytes of regular file data written. */
  bytes: number;
}

interface PendingDir {
  rel: string;
  mtime: number;
}

/** Extracts `source` (a tar, plain or compressed) into directory `dirPath` of `root`. */
export async function extractArchive(
  root: RootedFs,
  dirPath: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const dest = root.lookup(dirPath, { follow: true });
  let reader: TarReader | undefined;
  const state = new Extraction(root, options);
  try {
    if (!dest.exists) throw new NotFoundError(`Cannot extract to ${dirPath}: no such directory`);
    if (!dest.stats!.isDirectory()) throw new FailedPreconditionError('extraction point is not a directory');
    const { chunks } = await openDecompressed(source);
    reader = new TarReader(chunks);
    for (let header = await reader.next(); header; header = await reader.next()) {
      options.signal?.throwIfAborted();
      await state.entry(dest, header, reader);
      await state.flushIfFull();
    }
    await state.finish();
    return { entries: state.entries, bytes: state.bytes };
  } catch (error) {
    throw translate(error, dirPath);
  } finally {
    state.close();
    await reader?.close();
    dest.close();
  }
}

/** Errors of the kernel in Docker's words. */
function translate(error: unknown, dirPath: string): unknown {
  if (isErrno(error, 'EROFS')) {
    return new PermissionDeniedError(`Cannot copy to ${dirPath}: the file system is read-only`, {
      cause: error,
    });
  }
  if (isErrno(error, 'ENOSPC'))
    return new FailedPreconditionError(`Cannot copy to ${dirPath}: no space left on device`);
  return error;
}

class Extraction {
  readonly #root: RootedFs;
  readonly #options: ExtractOptions;
  /** The last parent directory used, kept open: tar entries come directory by directory. */
  #parent: { key: string; lookup: Lookup } | undefined;
  readonly #dirs: PendingDir[] = [];
  #xattrs: { fd: number; xattrs: XattrMap }[] = [];
  entries = 0;
  bytes = 0;

  constructor(root: RootedFs, options: ExtractOptions) {
    this.#root = root;
    this.#options = options;
  }

  async entry(dest: Lookup, header: TarHeader, reader: TarReader): Promise<void> {
    const rel = cleanRelative(header.name);
    this.entries++;
    const owner = this.#owner(header);
    if (rel === '') {
      // The archive's `./`: the extraction directory itself, merged (its metadata only when asked).
      if (header.type === 'dir' && this.#options.rootMetadata) {
        const fd = openSync(fdPath(dest.fd!), O_RDONLY | O_DIRECTORY);
        try {
          this.#applyToFd(fd, header, owner);
        } finally {
          closeSync(fd);
        }
        this.#dirs.push({ rel: dest.rel, mtime: header.mtime });
      }
      return;
    }
    const slash = rel.lastIndexOf('/');
    const parentRel = slash < 0 ? '' : rel.slice(0, slash);
    const base = slash < 0 ? rel : rel.slice(slash + 1);
    const parent = this.#parentDir(dest, parentRel);
    if (parent.readonly)
      throw new PermissionDeniedError(`Cannot copy to /${parent.rel}: it is mounted read-only`);
    const target = `/${parent.rel === '' ? base : `${parent.rel}/${base}`}`;
    // What is there now decides: merge a directory, replace the rest.
    const existing = this.#root.openChild(parent, base);
    if (existing) {
      const isDir = existing.stats.isDirectory();
      this.#root.closeFd(existing.fd);
      if (isDir && header.type === 'dir') {
        // merged below
      } else if (isDir) {
        if (this.#options.noOverwriteDirNonDir) {
          throw new FailedPreconditionError(
            `cannot overwrite directory "${target}" with non-directory "${header.name}"`,
          );
        }
        this.#removeTree(parent, base);
      } else {
        if (header.type === 'dir' && this.#options.noOverwriteDirNonDir) {
          throw new FailedPreconditionError(
            `cannot overwrite non-directory "${target}" with directory "${header.name}"`,
          );
        }
        unlinkSync(fdPath(parent.fd, base));
      }
    }
    const path = fdPath(parent.fd, base);
    switch (header.type) {
      case 'dir': {
        if (!existing?.stats.isDirectory()) mkdirSync(path, 0o700);
        const fd = openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        try {
          this.#applyToFd(fd, header, owner);
        } finally {
          closeSync(fd);
        }
        this.#dirs.push({ rel: parent.rel === '' ? base : `${parent.rel}/${base}`, mtime: header.mtime });
        return;
      }
      case 'file': {
        const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        try {
          await reader.forEachBodyChunk((chunk) => {
            let offset = 0;
            while (offset < chunk.length) offset += writeSync(fd, chunk, offset);
          });
          this.bytes += header.size;
          this.#applyToFd(fd, header, owner);
          futimesSync(fd, header.mtime, header.mtime);
        } finally {
          closeSync(fd);
        }
        return;
      }
      case 'symlink': {
        symlinkSync(header.linkname, path);
        if (owner) lchownSync(path, owner.uid, owner.gid);
        lutimesSync(path, header.mtime, header.mtime);
        return;
      }
      case 'link': {
        const linked = this.#root.lookup(`/${dest.rel}/${cleanRelative(header.linkname)}`, { follow: false });
        try {
          if (!linked.exists || linked.name === undefined) {
            throw new InvalidArgumentError(
              `Cannot link ${header.name}: its target ${header.linkname} is not in the archive`,
            );
          }
          if (linked.stats!.isDirectory())
            throw new InvalidArgumentError(`Cannot link ${header.name} to a directory`);
          linkSync(fdPath(linked.dir.fd, linked.name), path);
        } finally {
          linked.close();
        }
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = header.type === 'char' ? 'c' : header.type === 'block' ? 'b' : 'p';
        const args = ['-m', (header.mode & 0o7777).toString(8), childFdPath(parent.fd, base), kind];
        if (kind !== 'p') args.push(String(header.devmajor), String(header.devminor));
        await runMknod(args);
        const fd = openSync(path, O_PATH | O_NOFOLLOW);
        try {
          const stats = fstatSync(fd);
          if (stats.isSymbolicLink() || stats.isDirectory() || stats.isFile()) {
            throw new AlreadyExistsError(`Cannot make ${target}: it was replaced while being made`);
          }
          if (owner) lchownSync(path, owner.uid, owner.gid);
          chmodSync(fdPath(fd), header.mode & 0o7777);
          utimesSync(fdPath(fd), header.mtime, header.mtime);
        } finally {
          closeSync(fd);
        }
        return;
      }
    }
  }

  /** Sets the queued extended attributes once a batch is full (each holds a descriptor). */
  async flushIfFull(): Promise<void> {
    if (this.#xattrs.length >= 256) await this.#flushXattrs();
  }

  /** Directory times (deepest first: setting a child's changes its parent's) and pending xattrs. */
  async finish(): Promise<void> {
    await this.#flushXattrs();
    this.#closeParent();
    this.#dirs.sort((a, b) => b.rel.split('/').length - a.rel.split('/').length);
    for (const dir of this.#dirs) {
      const found = this.#root.lookup(`/${dir.rel}`, { follow: false });
      try {
        if (found.exists && found.stats!.isDirectory()) utimesSync(fdPath(found.fd!), dir.mtime, dir.mtime);
      } finally {
        found.close();
      }
    }
  }

  close(): void {
    this.#closeParent();
    for (const { fd } of this.#xattrs) closeSync(fd);
    this.#xattrs = [];
  }

  #owner(header: TarHeader): { uid: number; gid: number } | undefined {
    if (this.#options.noLchown) return undefined;
    return this.#options.chown ?? { uid: header.uid, gid: header.gid };
  }

  /** chown before chmod (chown clears setuid bits), then queue the xattrs (after chown: it clears capabilities). */
  #applyToFd(fd: number, header: TarHeader, owner: { uid: number; gid: number } | undefined): void {
    if (owner) fchownSync(fd, owner.uid, owner.gid);
    fchmodSync(fd, header.mode & 0o7777);
    if (header.xattrs.size > 0) {
      // The descriptor is closed by the caller: keep an O_PATH one of the same inode for setfattr.
      this.#xattrs.push({ fd: openSync(fdPath(fd), O_PATH), xattrs: header.xattrs });
    }
  }

  async #flushXattrs(): Promise<void> {
    const batch = this.#xattrs;
    this.#xattrs = [];
    try {
      await writeFdXattrs(batch.map(({ fd, xattrs }) => ({ path: childFdPath(fd), xattrs })));
    } finally {
      for (const { fd } of batch) closeSync(fd);
    }
  }

  /** The directory `dest/parentRel`, resolved inside the root, made (0755) where missing. */
  #parentDir(dest: Lookup, parentRel: string): DirFrame {
    const key = parentRel;
    if (this.#parent?.key === key) return frameOf(this.#parent.lookup);
    this.#closeParent();
    const start = dest.rel === '' ? '/' : `/${dest.rel}`;
    let found = this.#root.lookup(parentRel === '' ? start : `${start}/${parentRel}`, { follow: true });
    if (!found.exists) {
      found.close();
      found = this.#makeParents(start, parentRel);
    }
    if (!found.stats!.isDirectory()) {
      found.close();
      throw new FailedPreconditionError(`Cannot copy into ${start}/${parentRel}: not a directory`);
    }
    this.#parent = { key, lookup: found };
    return frameOf(found);
  }

  #makeParents(start: string, parentRel: string): Lookup {
    let path = start;
    for (const part of parentRel.split('/')) {
      path = path === '/' ? `/${part}` : `${path}/${part}`;
      const step = this.#root.lookup(path, { follow: true });
      if (!step.exists) {
        if (step.dir.readonly) {
          step.close();
          throw new PermissionDeniedError(`Cannot copy to ${path}: it is mounted read-only`);
        }
        try {
          mkdirSync(fdPath(step.dir.fd, step.name!), 0o755);
          const owner = this.#options.noLchown ? undefined : { uid: 0, gid: 0 };
          if (owner) lchownSync(fdPath(step.dir.fd, step.name!), owner.uid, owner.gid);
        } catch (error) {
          if (!isErrno(error, 'EEXIST')) throw error;
        } finally {
          step.close();
        }
      } else step.close();
    }
    return this.#root.lookup(path, { follow: true });
  }

  #closeParent(): void {
    this.#parent?.lookup.close();
    this.#parent = undefined;
  }

  /** Removes `name` of `dir` and everything below it, never following a symlink. */
  #removeTree(dir: DirFrame, name: string): void {
    this.#closeParent(); // a cached parent may be inside
    const child = this.#root.openDir(dir, name);
    if (child) {
      try {
        for (const entry of this.#root.readdir(child)) {
          const inner = this.#root.openChild(child, entry);
          if (!inner) continue;
          const isDir = inner.stats.isDirectory();
          this.#root.closeFd(inner.fd);
          if (isDir) this.#removeTree(child, entry);
          else unlinkSync(fdPath(child.fd, entry));
        }
      } finally {
        this.#root.closeFd(child.fd);
      }
      rmdirSync(fdPath(dir.fd, name));
    } else unlinkSync(fdPath(dir.fd, name));
  }
}

/** The directory a lookup found, as a frame (the lookup keeps owning the descriptor). */
function frameOf(lookup: Lookup): DirFrame {
  return { fd: lookup.fd!, rel: lookup.rel, readonly: lookup.readonly };
}

function runMknod(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mknod', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) =>
      reject(new InternalError(`Cannot run mknod: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new InternalError(
            `Cannot make device: ${Buffer.concat(err).toString('utf8').trim() || `exit code ${code}`}`,
          ),
        );
    });
  });
}
