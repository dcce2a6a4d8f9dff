/**
 * Applying a layer (a tar, plain or gzip/zstd/xz/bzip2 compressed, detected by magic bytes) onto
 * a directory, following the OCI image spec's changeset rules and containerd's containment rules.
 *
 * Containment: names are cleaned as if rooted (`../../x` and `/x` are both `x`), parent directories
 * are resolved inside the target following symlinks as if the target were `/`, and the entry itself
 * is never followed; so `../`, absolute names, symlinks pointing out (absolute or relative) and
 * then written through, and whiteouts of outside paths all land inside the target. What cannot be
 * contained (a hardlink whose target does not exist inside, a whiteout named `.wh..`, a symlink
 * loop) fails with an error naming the entry. A failed apply leaves a half-written tree: callers
 * discard it (the unpacker removes the snapshot).
 *
 * Order: whiteouts act when met; an opaque marker keeps what this layer already wrote in that
 * directory and hides or removes everything else, so its position in the archive does not matter.
 * `.wh..wh.plnk` (AUFS) is skipped. Directory times are set at the end. Device nodes are made only
 * when running as root. Every entry is read to its end, and the stream to its end, so the diffID
 * covers every byte.
 *
 * Speed: per-entry work uses synchronous fs calls (each a few microseconds: a libuv round trip
 * per syscall would double the time of a 20,000-file layer); decompression and reading run on
 * other threads meanwhile.
 *
 * @example
 * const { diffID } = await applyLayer(fs.createReadStream('layer.tar.gz'), '/tmp/rootfs');
 */
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
  readFileSync,
  readSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { InternalError, InvalidArgumentError, isErrno, WharfError } from '../../errors/index.ts';
import type { Digest } from '../../oci/digest.ts';
import { ApplyTarget, makeRdev } from './apply-target.ts';
import { BackgroundHash } from './background-hash.ts';
import { type Compression, detectCompression, openDecompressed } from './compression.ts';
import { cleanRelative } from './root-path.ts';
import type { TarHeader } from './tar-format.ts';
import { TarReader } from './tar-reader.ts';
import { WHITEOUT_LINK_DIR, WHITEOUT_META_PREFIX, WHITEOUT_OPAQUE, whiteoutTarget } from './whiteout.ts';

export interface ApplyOptions {
  /**
   * Apply into an overlay snapshot's (empty) upper directory, given its lower directories nearest
   * first: whiteouts become 0:0 devices and opaque directories get `trusted.overlay.opaque`.
   */
  overlayLowers?: readonly string[];
  /** chown entries to the archive's uid/gid; default: when running as root. */
  sameOwner?: boolean;
  /** Fail (after reading everything) when the uncompressed stream does not hash to this. */
  expectedDiffID?: Digest;
  signal?: AbortSignal;
  /** Told about entries skipped on purpose (device nodes when not root, dropped xattrs). */
  onWarning?: (message: string) => void;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar. */
  diffID: Digest;
  /** Bytes of the uncompressed tar. */
  size: number;
  compression: Compression;
}

/** The paths a layer wrote (what an opaque marker keeps in plain mode). */
interface Written {
  add(path: string): unknown;
  has(path: string): boolean;
}

/** Overlay mode needs no record: an opaque xattr hides only the lower layers. */
const NOT_TRACKED: Written = { add: () => undefined, has: () => false };

const OPEN_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Where a layer comes from: a file path (read synchronously in 1 MiB blocks, the fastest: no
 * thread-pool round trip per block, which on a loaded machine cost more than the apply itself), a
 * stream or any async iterable, or chunks in memory.
 */
export type LayerInput = string | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Applies the layer read from `source` to directory `target`. */
export async function applyLayer(
  source: LayerInput,
  target: string,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const tree = new ApplyTarget(target, {
    ...(options.overlayLowers ? { overlayLowers: options.overlayLowers } : {}),
    ...(options.sameOwner !== undefined ? { sameOwner: options.sameOwner } : {}),
  });
  const hash = new BackgroundHash();
  const opened =
    typeof source === 'string' ? await openLayerFile(source, hash) : await openDecompressed(source);
  const { compression, chunks } = opened;
  const hashedAlready = 'hashed' in opened;
  let size = 0;
  const hashed = async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      size += chunk.length;
      yield chunk;
      // Resumed when the reader wants the next chunk: done with this one, whose buffer the
      // source may now reuse.
      if (!hashedAlready) hash.update(chunk);
    }
  };
  const reader = new TarReader(hashed());
  // What this layer wrote, for opaque markers in plain mode (overlay mode needs no record).
  const written = tree.overlay ? NOT_TRACKED : new Set<string>();
  let finished = false;
  try {
    let count = 0;
    for (;;) {
      // Most entries are already buffered: no promise is made for them.
      const header = reader.nextSync() ?? (await reader.next());
      if (!header) break;
      if ((++count & 0xff) === 0) options.signal?.throwIfAborted();
      try {
        const pending = applyEntry(tree, reader, header, written, options);
        if (pending) await pending;
      } catch (error) {
        throw entryError(header, error);
      }
    }
    options.signal?.throwIfAborted();
    await tree.finish();
    finished = true;
  } finally {
    tree.dispose();
    if (!finished) {
      hash.dispose();
      await reader.close().catch(() => {});
    }
  }
  const diffID = await hash.digest();
  if (options.expectedDiffID && diffID !== options.expectedDiffID) {
    throw new InvalidArgumentError(
      `Cannot apply layer: its content hashes to ${diffID}, not the expected diffID ${options.expectedDiffID}`,
    );
  }
  return { diffID, size, compression };
}

/** Applies one entry; returns a promise only when it has to wait for more of the archive. */
function applyEntry(
  tree: ApplyTarget,
  reader: TarReader,
  header: TarHeader,
  written: Written,
  options: ApplyOptions,
): Promise<void> | undefined {
  const rel = cleanRelative(header.name);
  if (rel === '') return; // the root itself: containerd ignores it too
  const slash = rel.lastIndexOf('/');
  const base = rel.slice(slash + 1);
  if (rel.includes(WHITEOUT_LINK_DIR) && rel.split('/').includes(WHITEOUT_LINK_DIR)) return;
  const parent = tree.resolveDir(slash < 0 ? '' : rel.slice(0, slash));
  const path = parent === '' ? base : `${parent}/${base}`;
  tree.ensureDir(parent);

  if (base === WHITEOUT_OPAQUE) {
    tree.markOpaque(parent, (child) => written.has(child));
    return;
  }
  if (base.startsWith(WHITEOUT_META_PREFIX)) return; // other AUFS metadata
  const deleted = whiteoutTarget(base);
  if (deleted !== undefined) {
    if (deleted === '' || deleted === '.' || deleted === '..')
      throw new InvalidArgumentError(`invalid whiteout name ${base}`);
    tree.whiteout(parent === '' ? deleted : `${parent}/${deleted}`);
    return;
  }

  const abs = tree.path(path);
  switch (header.type) {
    case 'dir': {
      // A new directory gets its final mode from mkdir when the umask allows (and inherits the
      // setgid bit of a setgid parent), and needs no chown when it has the right owner already.
      // Without root, the directory stays writable to us until the end.
      const mode = tree.isRoot ? header.mode : header.mode | 0o700;
      let fresh = true;
      try {
        mkdirSync(abs, mode & 0o777);
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
        const stats = tree.lstat(path)!;
        if (stats.isDirectory()) fresh = false;
        else {
          const wasWhiteout = tree.isWhiteout(stats);
          tree.remove(path, stats);
          mkdirSync(abs, mode & 0o777);
          if (wasWhiteout) tree.markOpaque(path);
        }
      }
      const owner = tree.newFileOwner(parent);
      const ownerOk = fresh && owner.uid === header.uid && owner.gid === header.gid;
      if (!ownerOk) tree.setOwner(path, header.uid, header.gid);
      const made = (mode & 0o777 & ~processUmask()) | (owner.setgidParent ? 0o2000 : 0);
      if (!ownerOk || !fresh || made !== mode) chmodSync(abs, mode);
      tree.noteDir(path, header.gid, mode);
      tree.queueXattrs(path, header.xattrs);
      tree.deferDirTime(path, header.mtime, mode === header.mode ? undefined : header.mode);
      break;
    }
    case 'file': {
      // Created with its final permission bits when the umask allows, so most files need no
      // fchmod; and no fchown when they already have the right owner.
      let fd: number;
      try {
        fd = openSync(abs, OPEN_NEW_FILE, header.mode & 0o777);
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
        tree.remove(path);
        fd = openSync(abs, OPEN_NEW_FILE, header.mode & 0o777);
      }
      let body: Buffer | undefined;
      try {
        body = reader.bufferedBody();
        if (body) {
          writeAll(fd, body);
          finishFile(tree, fd, parent, path, header, written);
        }
      } catch (error) {
        closeSync(fd);
        throw error;
      }
      if (body) {
        closeSync(fd);
        return undefined;
      }
      // The body spans more than what is buffered: finish asynchronously.
      return (async () => {
        try {
          await reader.forEachBodyChunk((chunk) => writeAll(fd, chunk));
          finishFile(tree, fd, parent, path, header, written);
        } finally {
          closeSync(fd);
        }
      })();
    }
    case 'symlink': {
      createNew(tree, path, () => symlinkSync(header.linkname, abs));
      tree.invalidate();
      if (tree.sameOwner) lchownSync(abs, header.uid, header.gid);
      lutimesSync(abs, header.mtime, header.mtime);
      tree.queueXattrs(path, header.xattrs);
      break;
    }
    case 'link': {
      const linkRel = cleanRelative(header.linkname);
      const linkSlash = linkRel.lastIndexOf('/');
      const linkParent = tree.resolveDir(linkSlash < 0 ? '' : linkRel.slice(0, linkSlash));
      const targetRel =
        linkParent === '' ? linkRel.slice(linkSlash + 1) : `${linkParent}/${linkRel.slice(linkSlash + 1)}`;
      if (targetRel === path) throw new InvalidArgumentError('hardlink to itself');
      const source = tree.hardlinkSource(targetRel, header.name);
      // The link shares its target's inode and so its metadata: nothing else to set.
      createNew(tree, path, () => linkSync(source, abs));
      break;
    }
    case 'char':
    case 'block':
    case 'fifo': {
      if (header.type !== 'fifo' && !tree.isRoot) {
        options.onWarning?.(`skipped device node ${header.name}: not running as root`);
        return;
      }
      tree.remove(path);
      tree.makeNode(path, header.type, header.mode, makeRdev(header.devmajor, header.devminor));
      tree.setOwner(path, header.uid, header.gid);
      chmodSync(abs, header.mode);
      lutimesSync(abs, header.mtime, header.mtime);
      tree.queueXattrs(path, header.xattrs);
      break;
    }
  }
  written.add(path);
}

/**
 * A layer file, read synchronously in 1 MiB blocks. A plain tar of more than a few MiB is read
 * straight into the hashing thread's shared ring (no copy, no fresh memory); a smaller one into
 * one reused buffer (the reader and the hash are done with a block before asking for the next). A
 * decompressor holds on to its input, so compressed files get fresh buffers.
 */
async function openLayerFile(
  path: string,
  hash: BackgroundHash,
): Promise<{ compression: Compression; chunks: Iterable<Buffer> | AsyncIterable<Buffer>; hashed?: true }> {
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  let compression: Compression;
  let large: boolean;
  try {
    compression = detectCompression(head.subarray(0, readSync(fd, head, 0, 8, 0)));
    large = fstatSync(fd).size > 4 * 1024 * 1024;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (compression !== 'none') return openDecompressed(readBlocks(fd, () => Buffer.allocUnsafeSlow(BLOCK)));
  if (!large) {
    const buffer = Buffer.allocUnsafeSlow(BLOCK);
    return { compression, chunks: readBlocks(fd, () => buffer) };
  }
  return { compression, chunks: readIntoHash(fd, hash), hashed: true };
}

const BLOCK = 1024 * 1024;

function* readBlocks(fd: number, buffer: () => Buffer): Generator<Buffer> {
  try {
    for (;;) {
      const block = buffer();
      const n = readSync(fd, block, 0, block.length, null);
      if (n === 0) return;
      yield n === block.length ? block : block.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

function* readIntoHash(fd: number, hash: BackgroundHash): Generator<Buffer> {
  try {
    for (;;) {
      const slot = hash.claim();
      const n = readSync(fd, slot, 0, slot.length, null);
      if (n === 0) {
        hash.publishClaimed(0);
        return;
      }
      yield slot.subarray(0, n);
      hash.publishClaimed(n); // the reader is done with it
    }
  } finally {
    closeSync(fd);
  }
}

let umask: number | undefined;

/** The process umask, read from /proc (process.umask() without an argument is deprecated). */
function processUmask(): number {
  if (umask === undefined) {
    try {
      const match = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      umask = match ? Number.parseInt(match[1]!, 8) : 0o777;
    } catch {
      umask = 0o777; // unknown: always fchmod
    }
  }
  return umask;
}

function writeAll(fd: number, chunk: Buffer): void {
  let offset = 0;
  while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
}

/** Owner, mode (only where creation did not already get them right), times, xattrs of a new file. */
function finishFile(
  tree: ApplyTarget,
  fd: number,
  parent: string,
  path: string,
  header: TarHeader,
  written: Written,
): void {
  const owner = tree.newFileOwner(parent);
  if (tree.sameOwner && (owner.uid !== header.uid || owner.gid !== header.gid)) {
    fchownSync(fd, header.uid, header.gid);
    fchmodSync(fd, header.mode); // chown cleared setuid/setgid bits
  } else if ((header.mode & 0o777 & ~processUmask()) !== header.mode) fchmodSync(fd, header.mode);
  futimesSync(fd, header.mtime, header.mtime);
  tree.queueXattrs(path, header.xattrs);
  written.add(path);
}

/** Runs `create`; when something is in the way, removes it (never following it) and runs it again. */
function createNew<T>(tree: ApplyTarget, path: string, create: () => T): T {
  try {
    return create();
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
  }
  tree.remove(path);
  return create();
}

function entryError(header: TarHeader, error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  const message = `Cannot apply layer entry "${header.name}": ${reason}`;
  if (error instanceof WharfError && reason.startsWith('Cannot apply layer entry')) return error;
  const layerFault =
    error instanceof InvalidArgumentError ||
    ['ENOTDIR', 'ENOENT', 'ELOOP', 'EISDIR', 'EEXIST', 'EINVAL', 'EMLINK', 'EXDEV'].some((code) =>
      isErrno(error, code),
    );
  return layerFault
    ? new InvalidArgumentError(message, { cause: error })
    : new InternalError(message, { cause: error });
}
