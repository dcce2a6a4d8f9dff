/**
 * A directory tree treated as `/`, walked so that nothing outside it is ever read or written, even
 * while the container that owns the tree is running and swapping path components for symlinks
 * (the CVE-2018-15664 class, where a path checked safe is replaced by a link before it is used).
 *
 * How: the Linux way without openat2. Every step of a walk opens one component relative to the
 * file descriptor of the directory reached so far, through `/proc/self/fd/DIRFD/NAME` with
 * `O_PATH | O_NOFOLLOW`. The kernel resolves `/proc/self/fd/DIRFD` to exactly that open directory
 * (not to a path that could have changed), then looks up NAME in it without following a final
 * symlink: it is `openat(DIRFD, NAME, O_NOFOLLOW)` in Node. Symlinks are read and resolved here,
 * as moby's `FollowSymlinkInScope` and containerd's `fs.RootPath` do: an absolute target restarts
 * at the root's descriptor, `..` pops to the parent's descriptor and stops at the root (lexically,
 * never asking the kernel for `..`). So each descriptor held names something inside the root by
 * construction, and a swap between two steps only changes which in-root entry is reached.
 *
 * Operations then act on descriptors, never on re-resolved paths: data through an `O_NOFOLLOW`
 * descriptor of the entry, metadata through `/proc/self/fd/FD` (the pinned inode) or calls that
 * never follow (`lchown`, `unlink`, `mkdir`, `symlink` relative to a directory descriptor). Child
 * processes (getfattr, setfattr, mknod) get `/proc/PID/fd/FD` paths of this process.
 *
 * Two extras for containers:
 * - `mounts`: a table of what shows at some paths (volumes and binds of a stopped container,
 *   whose mounts exist nowhere): walking into such a path continues in the mount's source.
 * - `hidden`: paths whose contents are not walked (`/proc`, `/sys`, `/dev` of a running
 *   container's namespace, which Docker's copy does not show either).
 *
 * @example
 * const root = RootedFs.open('/var/lib/wharf/containers/ID/rootfs');
 * const found = root.lookup('/etc/../../../etc/passwd', { follow: true }); // the container's
 * try { ... } finally { found.close(); root.close(); }
 */
import { closeSync, constants, fstatSync, openSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { FailedPreconditionError, InvalidArgumentError, isErrno, NotFoundError } from '../../errors/index.ts';

/** Linux's O_PATH (not in Node's constants): a descriptor that names an inode without opening it. */
export const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_DIRECTORY, O_RDONLY } = constants;

/** Linux follows 40 links in one lookup; containerd allows 255. */
const MAX_LINKS = 255;

/** `/proc/self/fd/FD[/NAME]`: the entry NAME of open directory FD (or FD's own inode). */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

/** The same path as seen by a child process of this one. */
export function childFdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/${process.pid}/fd/${fd}` : `/proc/${process.pid}/fd/${fd}/${name}`;
}

/** A path's components without empty and `.` ones (`..` kept: the walk handles it). */
export function pathComponents(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** What shows at a path inside the root instead of the root's own entry. */
export interface RootMount {
  /** Path inside the root, absolute or relative (`/data`, `etc/hosts`). */
  at: string;
  /** Host path of the directory or file shown there (trusted: opened as given). */
  source: string;
  readonly: boolean;
}

export interface RootedFsOptions {
  mounts?: readonly RootMount[];
  /** Paths (inside the root) whose contents are never walked: lookups below them find nothing. */
  hidden?: readonly string[];
  /** The root itself is read-only (a `--read-only` container). */
  readonly?: boolean;
}

/** An open directory reached by a walk. */
export interface DirFrame {
  /** O_PATH descriptor of the directory. */
  fd: number;
  /** Its resolved path relative to the root ('' for the root). */
  rel: string;
  readonly: boolean;
}

/**
 * The result of a lookup: the directory holding the entry, its name there, and the entry's own
 * O_PATH descriptor when it exists. Close it when done.
 */
export class Lookup {
  readonly #root: RootedFs;
  /** The directory holding the entry; the entry itself when `name` is undefined. */
  readonly dir: DirFrame;
  /** The entry's name in `dir`; undefined when the lookup named a directory of the walk itself (the root, `x/..`). */
  readonly name: string | undefined;
  /** O_PATH descriptor of the entry (O_NOFOLLOW: a symlink is the link itself); undefined when missing. */
  fd: number | undefined;
  stats: Stats | undefined;
  /** Resolved path of the entry relative to the root ('' for the root). */
  readonly rel: string;
  /** The entry lies on a read-only mount (or root). */
  readonly readonly: boolean;
  #closed = false;

  constructor(
    root: RootedFs,
    parts: {
      dir: DirFrame;
      name: string | undefined;
      fd: number | undefined;
      stats: Stats | undefined;
      readonly: boolean;
      /** The resolved path, when it is not `dir/name` (a lenient lookup past a missing directory). */
      rel?: string;
    },
  ) {
    this.#root = root;
    this.dir = parts.dir;
    this.name = parts.name;
    this.fd = parts.fd;
    this.stats = parts.stats;
    this.readonly = parts.readonly;
    this.rel = parts.rel ?? (parts.name === undefined ? parts.dir.rel : joinRel(parts.dir.rel, parts.name));
  }

  get exists(): boolean {
    return this.fd !== undefined;
  }

  /** `/proc/self/fd/…` naming the entry without following it (the entry in its directory). */
  get entryPath(): string {
    return this.name === undefined ? fdPath(this.dir.fd) : fdPath(this.dir.fd, this.name);
  }

  /** Closes the descriptors (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.fd !== undefined && this.fd !== this.dir.fd) this.#root.closeFd(this.fd);
    this.#root.closeFd(this.dir.fd);
    this.fd = undefined;
  }
}

export class RootedFs {
  readonly #rootFd: number;
  readonly #mounts: Map<string, RootMount>;
  readonly #hidden: Set<string>;
  readonly #readonly: boolean;
  #closed = false;

  private constructor(rootFd: number, options: RootedFsOptions) {
    this.#rootFd = rootFd;
    this.#mounts = new Map();
    for (const mount of options.mounts ?? []) {
      const rel = pathComponents(mount.at).join('/');
      if (rel === '' || rel.split('/').includes('..')) {
        throw new InvalidArgumentError(
          `Cannot mount at ${mount.at}: the path must name something below the root`,
        );
      }
      this.#mounts.set(rel, mount);
    }
    this.#hidden = new Set((options.hidden ?? []).map((path) => pathComponents(path).join('/')));
    this.#readonly = options.readonly === true;
  }

  /**
   * Opens `dir` (a trusted host path, followed as given) as the root. For a running container,
   * `/proc/PID/root` gives its root as its processes see it, mounts included.
   */
  static open(dir: string, options: RootedFsOptions = {}): RootedFs {
    let fd: number;
    try {
      fd = openSync(dir, O_PATH | O_DIRECTORY);
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) {
        throw new NotFoundError(`Cannot open ${dir}: no such directory`, { cause: error });
      }
      throw error;
    }
    return new RootedFs(fd, options);
  }

  get rootFrame(): DirFrame {
    return { fd: this.#rootFd, rel: '', readonly: this.#readonly };
  }

  /** Whether the contents of `rel` are hidden (never walked). */
  isHidden(rel: string): boolean {
    if (this.#hidden.size === 0) return false;
    for (let i = rel.indexOf('/'); ; i = rel.indexOf('/', i + 1)) {
      const prefix = i < 0 ? rel : rel.slice(0, i);
      if (this.#hidden.has(prefix)) return true;
      if (i < 0) return false;
    }
  }

  /** Whether `rel` itself is a hidden directory (listed, its contents not). */
  hidesContentsOf(rel: string): boolean {
    return this.#hidden.has(rel);
  }

  /**
   * Resolves `path` (absolute or relative to the root; any `..`) inside the root. Symlinks met on
   * the way are followed inside the root; a final symlink only with `follow`. Missing final
   * components give a lookup without `fd`; a missing or non-directory intermediate one throws
   * NotFoundError / FailedPreconditionError, unless `lenient`: then the rest of the path is taken
   * as written (moby's FollowSymlinkInScope) and the lookup only tells the resolved `rel`.
   */
  lookup(path: string, options: { follow: boolean; lenient?: boolean }): Lookup {
    this.#checkOpen();
    const stack: DirFrame[] = [this.rootFrame];
    const pending = pathComponents(path).reverse();
    let links = 0;
    let retries = 0;
    const release = (keep: DirFrame | undefined) => {
      for (const frame of stack) if (frame !== keep) this.closeFd(frame.fd);
    };
    // Past a missing directory, the rest of the path is taken as written (`..` included).
    const lexically = (dir: DirFrame, rel: string): Lookup => {
      const parts = rel.split('/');
      while (pending.length > 0) {
        const next = pending.pop()!;
        if (next !== '..') parts.push(next);
        else if (parts.length > 0) parts.pop();
      }
      stack.pop();
      release(undefined);
      return new Lookup(this, {
        dir,
        name: undefined,
        fd: undefined,
        stats: undefined,
        readonly: dir.readonly,
        rel: parts.join('/'),
      });
    };
    try {
      while (pending.length > 0) {
        const part = pending.pop()!;
        if (part === '..') {
          if (stack.length > 1) this.closeFd(stack.pop()!.fd);
          continue;
        }
        const dir = stack.at(-1)!;
        const rel = joinRel(dir.rel, part);
        const last = pending.length === 0;
        const child = this.isHidden(dir.rel) ? undefined : this.openChild(dir, part, rel);
        if (!child) {
          if (!last && options.lenient) return lexically(dir, rel);
          if (!last) throw new NotFoundError(`Cannot resolve ${path}: /${rel}: no such file or directory`);
          stack.pop();
          release(undefined);
          return new Lookup(this, {
            dir,
            name: part,
            fd: undefined,
            stats: undefined,
            readonly: dir.readonly,
          });
        }
        if (child.stats.isSymbolicLink() && (!last || options.follow)) {
          let target: string;
          try {
            target = readlinkSync(fdPath(dir.fd, part));
          } catch (error) {
            this.closeFd(child.fd);
            // Replaced between the open and the read: look at the component again.
            if ((isErrno(error, 'EINVAL') || isErrno(error, 'ENOENT')) && ++retries < 100) {
              pending.push(part);
              continue;
            }
            throw error;
          }
          this.closeFd(child.fd);
          if (++links > MAX_LINKS) {
            throw new InvalidArgumentError(`Cannot resolve ${path}: too many levels of symbolic links`);
          }
          if (target.startsWith('/')) while (stack.length > 1) this.closeFd(stack.pop()!.fd);
          pending.push(...pathComponents(target).reverse());
          continue;
        }
        if (last) {
          stack.pop();
          release(undefined);
          return new Lookup(this, {
            dir,
            name: part,
            fd: child.fd,
            stats: child.stats,
            readonly: child.readonly,
          });
        }
        if (!child.stats.isDirectory()) {
          this.closeFd(child.fd);
          if (options.lenient) return lexically(dir, rel);
          throw new FailedPreconditionError(`Cannot resolve ${path}: /${rel} is not a directory`);
        }
        stack.push({ fd: child.fd, rel, readonly: child.readonly });
      }
      // The path names a directory of the walk itself: the root, or one reached through `..`.
      const top = stack.at(-1)!;
      release(top);
      return new Lookup(this, {
        dir: top,
        name: undefined,
        fd: top.fd,
        stats: fstatSync(top.fd),
        readonly: top.readonly,
      });
    } catch (error) {
      release(undefined);
      throw error;
    }
  }

  /**
   * Opens entry `name` of directory `dir` (O_PATH | O_NOFOLLOW), or what a mount shows there.
   * Undefined when there is no such entry.
   */
  openChild(
    dir: DirFrame,
    name: string,
    rel = joinRel(dir.rel, name),
  ): { fd: number; stats: Stats; readonly: boolean } | undefined {
    const mount = this.#mounts.get(rel);
    if (mount) {
      try {
        const fd = openSync(mount.source, O_PATH);
        return { fd, stats: fstatSync(fd), readonly: mount.readonly };
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
        // A missing volume source: the root's own entry shows, as when nothing is mounted.
      }
    }
    let fd: number;
    try {
      fd = openSync(fdPath(dir.fd, name), O_PATH | O_NOFOLLOW);
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
      throw error;
    }
    try {
      return { fd, stats: fstatSync(fd), readonly: dir.readonly };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Names in directory `fd` (sorted bytewise), with mounted-over names unchanged; none when hidden. */
  readdir(frame: DirFrame): string[] {
    if (this.hidesContentsOf(frame.rel) || this.isHidden(frame.rel)) return [];
    const names = readdirSync(fdPath(frame.fd));
    return names.sort(compareBytes);
  }

  /** Opens a regular file's data for reading through its O_PATH descriptor (same inode, no lookup). */
  openForRead(fd: number): number {
    return openSync(fdPath(fd), O_RDONLY);
  }

  /** Opens directory entry `name` of `dir` as a directory frame (O_NOFOLLOW), for walking down. */
  openDir(dir: DirFrame, name: string): DirFrame | undefined {
    const child = this.openChild(dir, name);
    if (!child) return undefined;
    if (!child.stats.isDirectory()) {
      this.closeFd(child.fd);
      return undefined;
    }
    return { fd: child.fd, rel: joinRel(dir.rel, name), readonly: child.readonly };
  }

  /** Closes a descriptor this handle gave out (never the root's own). */
  closeFd(fd: number): void {
    if (fd === this.#rootFd) return;
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#rootFd);
  }

  #checkOpen(): void {
    if (this.#closed) throw new FailedPreconditionError('Cannot walk a closed root');
  }
}

/** Bytewise order of names (Go's sort.Strings, which `docker diff` and tar walks follow). */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
