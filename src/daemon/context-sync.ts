/**
 * Makes a directory hold exactly what a build context tar holds, writing only what differs from
 * what the directory already holds: the daemon keeps the context of the last build in each
 * context slot, and a client sends the whole context again for every build (the classic
 * `/build` endpoint has no BuildKit-style file sync). Creating files is what unpacking costs on
 * these machines (2,000 files: about a second, against a tenth for reading them), so a file
 * whose bytes are already there is left in place (its inode too, which copy reuse and the
 * layers that link it share).
 *
 * Per entry of the tar, in order:
 * - a regular file whose path holds a regular file of the same size (up to 8 MiB) is compared
 *   byte for byte; equal bytes leave the file in place (mode and mtime corrected when they
 *   differ, on a file with no other name), anything else is written as a new file (`O_EXCL`,
 *   after removing what was there, never through a symlink);
 * - a symlink with the same target, a directory, a hard link to the same inode are kept;
 * - parents are checked to be real directories (a symlink or file left by an earlier context is
 *   replaced; one made by this same tar makes the tar refused, as it would lead a later entry
 *   outside the directory);
 * - after the last entry, whatever the tar did not name is removed, and directory modes and
 *   mtimes are set (deepest first, after their contents, as tar does).
 * Names are made relative (leading `/` and `./` dropped); a `..` component refuses the tar.
 * Devices, FIFOs and sockets refuse it too (a context has no use for them). The owner is the
 * daemon's (tar's `--no-same-owner`): the builder copies context files as 0:0 anyway.
 *
 * A file of the directory is never changed in place once it may have another name: the builder
 * hard-links the directory's files into the layers of COPY steps (BuildRequest.linkContext), and
 * a built layer must never change. So a kept file with several names whose mode or mtime differ
 * is replaced by a new file rather than corrected, and bytes are only ever written into files
 * this sync has just created. Two paths left sharing an inode by an earlier context (its hard
 * links) are told apart from layer links by the inodes this sync has already kept: the second
 * path of one inode is written anew unless the tar links it.
 *
 * Every regular file's bytes are hashed as they pass (sha256, about 1 ms per MB here, while the
 * client is still sending): the builder then needs no digest of its own for any context file.
 * Compares read with O_NOATIME: a file a layer shares is not even given a new atime.
 *
 * Given what the previous sync of the same directory left (`previous`: its lstat and digest per
 * path), a file still on the inode, size and mtime that sync left, whose incoming bytes have the
 * digest it recorded, is kept without reading it back (opening and reading 2,000 files is most of
 * what a rebuild's sync costs here). Nothing else writes into a file of the directory between two
 * syncs: this sync only writes files it has just created, and layers share files but never change
 * them (BuildKit's file sync trusts size and mtime alone). The caller drops `previous` whenever
 * the directory is emptied or a sync fails; a daemon started afresh has none and compares bytes.
 *
 * Compressed contexts: gzip is read in-process; bzip2, xz and zstd go through GNU tar, into the
 * emptied directory (no reuse).
 *
 * @example
 * const stats = await syncContext(request.body, '/var/lib/wharf/build/tmp/api-context-0', { signal });
 * stats.kept; // files left in place
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fchmodSync,
  constants as fsConstants,
  fstatSync,
  futimesSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  type Stats,
  statSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidArgumentError, isErrno } from '../errors/index.ts';
import { lstatOrUndefined } from '../util/sync-fs.ts';

/** Files up to this size are compared with what is in place; bigger ones are always written. */
const COMPARE_LIMIT = 8 * 1024 * 1024;

export interface ContextSyncStats {
  /** Regular files in the tar. */
  files: number;
  /** Regular files left in place (same bytes). */
  kept: number;
  /** Regular files written. */
  written: number;
  /** Paths removed because the tar no longer has them. */
  removed: number;
  /** Bytes of the regular files in the tar. */
  bytes: number;
  /**
   * The lstat of every entry of the directory after the sync, by relative path (what the
   * builder's context walk would ask again); undefined when the sync cannot vouch for them (a
   * context with hard links, whose link counts moved, or one unpacked by GNU tar).
   */
  entries?: Map<string, Stats>;
  /**
   * The content digest (`sha256:…`) of every regular file by relative path, from the bytes the
   * tar carried (a hard link has its target's); undefined for a context unpacked by GNU tar.
   */
  digests?: Map<string, string>;
}

/** What a sync left in its directory, for the next sync of it (see the file comment). */
export interface PreviousSync {
  readonly entries: ReadonlyMap<string, Stats>;
  readonly digests: ReadonlyMap<string, string>;
}

type TarEntry = AsyncIterable<Buffer> & { header: tar.Header; resume(): void };

function contextError(message: string): InvalidArgumentError {
  return new InvalidArgumentError(`Cannot read the build context: ${message}`);
}

/** An entry's name as a relative path ('' for the root), or a refusal. */
export function contextPath(name: string): string {
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw contextError(`${name}: names with .. components are refused`);
  return parts.join('/');
}

function compressionOf(head: Buffer): 'gzip' | 'bzip2' | 'xz' | 'zstd' | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return undefined;
}

/**
 * The bytes of `source` with the end of a tar made whole: the docker CLI ends the tar it makes
 * for a Dockerfile outside the context right after the last file's bytes, with no padding and no
 * end blocks (Go's reader does not mind). Past a complete archive the zeros are never read.
 */
async function* paddedTar(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    yield chunk;
  }
  yield Buffer.alloc(((512 - (total % 512)) % 512) + 1024);
}

/** The first bytes of a stream (to tell its compression) and the whole stream again. */
async function peek(source: AsyncIterable<Buffer>): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const iterator = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < 6) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.byteLength;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.byteLength > 0) yield head;
    while (!done) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, all: all() };
}

export async function syncContext(
  source: AsyncIterable<Buffer>,
  dir: string,
  options: { signal: AbortSignal; previous?: PreviousSync },
): Promise<ContextSyncStats> {
  const { head, all } = await peek(source);
  const compression = compressionOf(head);
  if (compression !== undefined && compression !== 'gzip') {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await untarWithGnuTar(all, dir, compression, options.signal);
    return { files: 0, kept: 0, written: 0, removed: 0, bytes: 0 };
  }
  mkdirSync(dir, { recursive: true });
  const sync = new DirectorySync(dir, options.previous);
  if (head.byteLength === 0) {
    sync.removeUnseen();
    return sync.stats;
  }
  const extract = tar.extract();
  const input = compression === 'gzip' ? Readable.from(all).pipe(createGunzip()) : Readable.from(all);
  const feeding = pipeline(paddedTar(input), extract, { signal: options.signal });
  feeding.catch((error: unknown) => extract.destroy(error as Error));
  try {
    for await (const entry of extract as unknown as AsyncIterable<TarEntry>) {
      options.signal.throwIfAborted();
      await sync.entry(entry);
    }
    await feeding;
  } catch (error) {
    await feeding.catch(() => {});
    if (options.signal.aborted) throw error;
    if (error instanceof InvalidArgumentError) throw error;
    throw contextError((error as Error).message);
  }
  sync.removeUnseen();
  sync.finishDirectories();
  return sync.result();
}

/** One sync of a tar into a directory (see the file comment). */
class DirectorySync {
  readonly #dir: string;
  /** Paths named by the tar (and their parents), with the kind the tar gave them. */
  readonly #seen = new Map<string, 'directory' | 'other'>();
  /** Parents known to be real directories in this sync. */
  readonly #directories = new Set<string>(['']);
  /** Directory entries, for their mode and mtime at the end. */
  readonly #directoryHeaders: Array<{ path: string; mode: number; mtime: Date | undefined }> = [];
  readonly stats: ContextSyncStats = { files: 0, kept: 0, written: 0, removed: 0, bytes: 0 };
  /** The lstat of each path once this sync is done with it (see ContextSyncStats.entries). */
  readonly #final = new Map<string, Stats>();
  /** The content digest of each regular file (see ContextSyncStats.digests). */
  readonly #digests = new Map<string, string>();
  /** `dev:ino` of the files kept so far: a second path of one of them is not kept. */
  readonly #keptInodes = new Set<string>();
  #hardlinks = false;
  readonly #previous: PreviousSync | undefined;

  constructor(dir: string, previous: PreviousSync | undefined) {
    this.#dir = dir;
    this.#previous = previous;
  }

  async entry(entry: TarEntry): Promise<void> {
    const header = entry.header;
    const path = contextPath(header.name);
    if (path === '') {
      entry.resume();
      return;
    }
    const type = header.type ?? 'file';
    if (type === 'directory') {
      entry.resume();
      this.#ensureParents(path);
      this.#directory(path, header);
      return;
    }
    if (type !== 'file' && type !== 'contiguous-file' && type !== 'symlink' && type !== 'link') {
      entry.resume();
      throw contextError(`${header.name} is a ${type}: a build context holds files, directories and links`);
    }
    this.#ensureParents(path);
    this.#seen.set(path, 'other');
    this.#forgetDirectory(path);
    const full = join(this.#dir, path);
    if (type === 'symlink') {
      entry.resume();
      this.#symlink(full, header);
      this.#final.set(path, lstatSync(full));
    } else if (type === 'link') {
      entry.resume();
      const target = this.#hardlink(full, header);
      const digest = this.#digests.get(target);
      if (digest !== undefined) this.#digests.set(path, digest);
      this.#hardlinks = true;
    } else {
      this.#final.set(path, await this.#file(path, full, header, entry));
    }
  }

  /** The counts, and the entries' lstat when they can be vouched for. */
  result(): ContextSyncStats {
    if (this.#hardlinks) return { ...this.stats, digests: this.#digests };
    // directories got their mode and mtime last, and their parents made on the way none
    for (const [path, kind] of this.#seen) {
      if (kind === 'directory') this.#final.set(path, lstatSync(join(this.#dir, path)));
    }
    return { ...this.stats, entries: this.#final, digests: this.#digests };
  }

  /** Every parent of `path` a real directory (made, or replacing what an earlier context left). */
  #ensureParents(path: string): void {
    const parts = path.split('/');
    let current = '';
    for (let i = 0; i < parts.length - 1; i++) {
      current = current === '' ? parts[i]! : `${current}/${parts[i]}`;
      if (this.#directories.has(current)) continue;
      if (this.#seen.get(current) === 'other') {
        throw contextError(`${path}: its parent ${current} is not a directory in the tar`);
      }
      const full = join(this.#dir, current);
      const st = lstatOrUndefined(full);
      if (!st?.isDirectory()) {
        if (st) rmSync(full, { recursive: true, force: true });
        mkdirSync(full, { mode: 0o755 });
      }
      this.#directories.add(current);
      if (!this.#seen.has(current)) this.#seen.set(current, 'directory');
    }
  }

  #forgetDirectory(path: string): void {
    if (!this.#directories.delete(path)) return;
    const prefix = `${path}/`;
    for (const known of this.#directories) if (known.startsWith(prefix)) this.#directories.delete(known);
  }

  #directory(path: string, header: tar.Header): void {
    if (this.#seen.get(path) === 'other') {
      throw contextError(`${path}: named as a directory after another kind of entry`);
    }
    const full = join(this.#dir, path);
    const st = lstatOrUndefined(full);
    if (!st?.isDirectory()) {
      if (st) rmSync(full, { force: true });
      mkdirSync(full, { mode: 0o755 });
    }
    this.#seen.set(path, 'directory');
    this.#directories.add(path);
    this.#directoryHeaders.push({ path: full, mode: (header.mode ?? 0o755) & 0o7777, mtime: header.mtime });
  }

  #symlink(full: string, header: tar.Header): void {
    const target = header.linkname ?? '';
    const st = lstatOrUndefined(full);
    if (st?.isSymbolicLink() && readlinkSync(full) === target) {
      setTimes(full, st, header.mtime, true);
      return;
    }
    if (st) rmSync(full, { recursive: true, force: true });
    symlinkSync(target, full);
    setTimes(full, undefined, header.mtime, true);
  }

  /** Makes `full` a hard link of what the header names; returns that target (relative). */
  #hardlink(full: string, header: tar.Header): string {
    const targetPath = contextPath(header.linkname ?? '');
    if (this.#seen.get(targetPath) !== 'other') {
      throw contextError(
        `${header.name}: a hard link to ${header.linkname}, which the tar has not given before`,
      );
    }
    const target = join(this.#dir, targetPath);
    const targetStat = lstatSync(target);
    const st = lstatOrUndefined(full);
    if (st && st.ino === targetStat.ino && st.dev === targetStat.dev) return targetPath;
    if (st) rmSync(full, { recursive: true, force: true });
    linkSync(target, full);
    return targetPath;
  }

  /** Keeps or writes a regular file (`path` relative, `full` absolute); returns its lstat as left. */
  async #file(path: string, full: string, header: tar.Header, entry: TarEntry): Promise<Stats> {
    const size = header.size ?? 0;
    const mode = (header.mode ?? 0o644) & 0o7777;
    this.stats.files++;
    this.stats.bytes += size;
    const hash = createHash('sha256');
    const st = lstatOrUndefined(full);
    if (st?.isFile() && st.size === size && size <= COMPARE_LIMIT) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk);
      const incoming = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const digest = `sha256:${hash.update(incoming).digest('hex')}`;
      this.#digests.set(path, digest);
      const inode = `${st.dev}:${st.ino}`;
      if (!this.#keptInodes.has(inode) && (this.#leftAsIs(path, st, digest) || sameBytes(full, incoming))) {
        const kept = this.#keep(full, st, mode, header.mtime);
        if (kept) {
          this.#keptInodes.add(inode);
          this.stats.kept++;
          return kept;
        }
      }
      rmSync(full, { force: true });
      this.stats.written++;
      return writeNewFile(full, mode, header.mtime, [incoming]);
    }
    if (st) rmSync(full, { recursive: true, force: true });
    const fd = createExclusive(full, mode);
    try {
      for await (const chunk of entry) {
        hash.update(chunk);
        writeAll(fd, chunk);
      }
      finishFile(fd, mode, header.mtime);
      this.#digests.set(path, `sha256:${hash.digest('hex')}`);
      this.stats.written++;
      return fstatSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** True when `path` is the file the previous sync left, and held the bytes of `digest` then. */
  #leftAsIs(path: string, st: Stats, digest: string): boolean {
    const before = this.#previous?.entries.get(path);
    return (
      before !== undefined &&
      this.#previous?.digests.get(path) === digest &&
      before.isFile() &&
      before.ino === st.ino &&
      before.dev === st.dev &&
      before.size === st.size &&
      before.mtimeMs === st.mtimeMs
    );
  }

  /**
   * Leaves a file with the right bytes in place, its mode and mtime corrected; undefined when
   * they need correcting and the file has other names (a layer's: it must not change), so a new
   * file replaces it.
   */
  #keep(full: string, st: Stats, mode: number, mtime: Date | undefined): Stats | undefined {
    const modeDiffers = (st.mode & 0o7777) !== mode;
    const timeDiffers = mtime !== undefined && Math.abs(st.mtimeMs - mtime.getTime()) >= 1;
    if (!modeDiffers && !timeDiffers) return st;
    if (st.nlink !== 1) return undefined;
    if (modeDiffers) chmodSync(full, mode);
    setTimes(full, st, mtime, false);
    return lstatSync(full);
  }

  /** Removes what the tar did not name (a file of an earlier context that is gone now). */
  removeUnseen(): void {
    const walk = (relative: string) => {
      const full = relative === '' ? this.#dir : join(this.#dir, relative);
      for (const item of readdirSync(full, { withFileTypes: true })) {
        const path = relative === '' ? item.name : `${relative}/${item.name}`;
        const kind = this.#seen.get(path);
        if (kind === undefined) {
          rmSync(join(full, item.name), { recursive: true, force: true });
          this.stats.removed++;
        } else if (kind === 'directory' && item.isDirectory()) {
          walk(path);
        }
      }
    };
    walk('');
  }

  /** Directory modes and mtimes, deepest first (writing into a directory moves its mtime). */
  finishDirectories(): void {
    const ordered = [...this.#directoryHeaders].sort((a, b) => b.path.length - a.path.length);
    for (const { path, mode, mtime } of ordered) {
      const st = statSync(path);
      if ((st.mode & 0o7777) !== mode) chmodSync(path, mode);
      setTimes(path, st, mtime, false);
    }
  }
}

function writeAll(fd: number, chunk: Buffer): void {
  let offset = 0;
  while (offset < chunk.byteLength) offset += writeSync(fd, chunk, offset);
}

/** The umask files are created with (the mode is set again only when it took bits off). */
const UMASK = process.umask();
const COMPARE_BUFFER = Buffer.allocUnsafe(COMPARE_LIMIT);

/** A new file, never through a symlink and never over an existing one. */
function createExclusive(full: string, mode: number): number {
  return openSync(
    full,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
    mode,
  );
}

function finishFile(fd: number, mode: number, mtime: Date | undefined): void {
  if ((mode & ~UMASK) !== mode) fchmodSync(fd, mode);
  if (mtime) futimesSync(fd, mtime, mtime);
}

/** Writes a new file; returns its stat. */
function writeNewFile(full: string, mode: number, mtime: Date | undefined, chunks: Buffer[]): Stats {
  const fd = createExclusive(full, mode);
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    finishFile(fd, mode, mtime);
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether O_NOATIME is allowed here (the daemon owns the files, or is root). */
let noAtime = true;

/**
 * Opens a file to read it without moving its atime: the file may be a layer's too, and a
 * compare is no access worth a metadata write (after a link, relatime would write one per file).
 */
function openToCompare(full: string): number {
  const flags = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW;
  if (noAtime) {
    try {
      return openSync(full, flags | fsConstants.O_NOATIME);
    } catch (error) {
      if (!isErrno(error, 'EPERM')) throw error;
      noAtime = false;
    }
  }
  return openSync(full, flags);
}

/** True when the file at `full` (known to be as long) holds exactly `bytes`. */
function sameBytes(full: string, bytes: Buffer): boolean {
  const fd = openToCompare(full);
  try {
    let read = 0;
    while (read < bytes.byteLength) {
      const n = readSync(fd, COMPARE_BUFFER, read, bytes.byteLength - read, read);
      if (n === 0) return false;
      read += n;
    }
    return COMPARE_BUFFER.subarray(0, read).equals(bytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * Sets the mtime from the tar unless it already is (setting it would move the ctime); true when
 * it set it.
 */
function setTimes(path: string, st: Stats | undefined, mtime: Date | undefined, link: boolean): boolean {
  if (!mtime) return false;
  if (st && Math.abs(st.mtimeMs - mtime.getTime()) < 1) return false;
  if (link) lutimesSync(path, mtime, mtime);
  else utimesSync(path, mtime, mtime);
  return true;
}

/** bzip2, xz and zstd contexts: GNU tar reads them (told which, as it cannot guess from a pipe). */
async function untarWithGnuTar(
  source: AsyncIterable<Buffer>,
  dir: string,
  compression: 'bzip2' | 'xz' | 'zstd',
  signal: AbortSignal,
): Promise<void> {
  const child = spawn(
    'tar',
    ['-x', '--no-same-owner', '--warning=no-timestamp', `--${compression}`, '-f', '-', '-C', dir],
    { stdio: ['pipe', 'ignore', 'pipe'], signal },
  );
  const errors: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  const failure = () => contextError(Buffer.concat(errors).toString().trim() || 'tar failed');
  try {
    await pipeline(source, child.stdin, { signal });
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGKILL');
    const code = await exited.catch(() => null);
    if (signal.aborted) throw error;
    if (code !== 0) throw failure();
    throw error;
  }
  if ((await exited) !== 0) throw failure();
}
