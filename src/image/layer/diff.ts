/**
 * Making a layer: the changes of a snapshot as an OCI layer tar (optionally gzip-compressed), with
 * its diffID (sha256 of the uncompressed tar) and sizes computed while it streams.
 *
 * Two sources of changes:
 * - `diffUpperDir`: an overlay snapshot's upper directory *is* the change set. 0:0 character
 *   devices (and xwhiteout files) become `.wh.NAME`, directories with `trusted.overlay.opaque=y`
 *   get a `.wh..wh..opq`; everything else is copied. Redirected or metacopy entries (overlay
 *   features Wharf never turns on) are refused rather than diffed wrong.
 * - `diffDirectories`: the copy snapshotter's two full trees, compared entry by entry (type, mode,
 *   owner, size, mtime to the nanosecond, link target, device, xattrs; contents when the mtime has
 *   no sub-second part, since tar-extracted files all share that and a same-size edit could hide).
 *
 * Same tree, same bytes: entries are in a fixed order (in each directory: the directory, its opaque
 * marker, its whiteouts, then its children by name, depth first), headers have no user or group
 * names, no atime/ctime, mtimes in whole seconds clamped to SOURCE_DATE_EPOCH when set, whiteouts
 * dated 0 (as containerd 2 does). Hardlinks are found by device and inode; the first path in that
 * order carries the data and later ones link to it. Extended attributes are kept (including
 * `security.capability`) except overlayfs's own and `security.selinux`. Sockets are skipped.
 *
 * @example
 * const diff = diffUpperDir('/var/lib/wharf/snapshots/overlay/snapshots/12/fs', { compression: 'gzip' });
 * await ingestVerified(diff.stream, target);
 * const { diffID, digest, size } = await diff.result;
 */
import {
  type BigIntStats,
  closeSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
} from 'node:fs';
import { Readable } from 'node:stream';
import { FailedPreconditionError, InternalError, isErrno } from '../../errors/index.ts';
import type { Digest } from '../../oci/digest.ts';
import { BackgroundHash } from './background-hash.ts';
import { gzipParallel } from './compression.ts';
import {
  encodeTarHeader,
  TAR_BLOCK,
  TAR_TRAILER,
  type TarEntryType,
  type TarHeader,
  tarPadding,
  writeTarHeaderInto,
} from './tar-format.ts';
import {
  isLayerXattr,
  OVERLAY_OPAQUE_XATTR,
  OVERLAY_XATTR_PREFIX,
  WHITEOUT_OPAQUE,
  WHITEOUT_PREFIX,
} from './whiteout.ts';
import { readXattrsRecursive, type XattrMap } from './xattr.ts';

export interface DiffOptions {
  /** Clamp mtimes to this (seconds since the epoch); default: `SOURCE_DATE_EPOCH` when set. */
  sourceDateEpoch?: number;
  /** 'gzip' compresses the stream (the diffID still covers the uncompressed tar). Default 'none'. */
  compression?: 'gzip' | 'none';
  gzipLevel?: number;
  signal?: AbortSignal;
}

export interface DiffResult {
  /** sha256 of the uncompressed tar. */
  diffID: Digest;
  diffSize: number;
  /** sha256 and size of the stream as delivered (equal to diffID/diffSize when uncompressed). */
  digest: Digest;
  size: number;
  compression: 'gzip' | 'none';
}

export interface LayerDiff {
  /** The layer bytes. Read it to its end once; `result` settles then. */
  stream: Readable;
  result: Promise<DiffResult>;
}

/** The layer that an overlay upper directory represents. */
export function diffUpperDir(upperDir: string, options: DiffOptions = {}): LayerDiff {
  const epoch = epochOf(options);
  return makeDiff(async (spare) => {
    // getfattr runs while the tree is walked (both take about as long).
    const pending = readXattrsRecursive(upperDir);
    pending.catch(() => {});
    const listing = listTree(upperDir.replace(/\/+$/, ''));
    return upperTar(listing, await pending, epoch, spare);
  }, options);
}

/**
 * The layer that turns tree `lowerDir` (undefined: empty) into tree `upperDir`.
 */
export function diffDirectories(
  lowerDir: string | undefined,
  upperDir: string,
  options: DiffOptions = {},
): LayerDiff {
  const epoch = epochOf(options);
  return makeDiff(async (spare) => {
    const pending = Promise.all([
      lowerDir ? readXattrsRecursive(lowerDir) : new Map<string, XattrMap>(),
      readXattrsRecursive(upperDir),
    ]);
    pending.catch(() => {});
    const plan = planTreeDiff(lowerDir, upperDir);
    const [lowerXattrs, upperXattrs] = await pending;
    settleXattrChanges(plan, lowerXattrs, upperXattrs);
    return planTar(plan, upperDir, upperXattrs, epoch, spare);
  }, options);
}

function epochOf(options: DiffOptions): number | undefined {
  if (options.sourceDateEpoch !== undefined) return options.sourceDateEpoch;
  const env = process.env.SOURCE_DATE_EPOCH;
  return env && /^\d+$/.test(env) ? Number(env) : undefined;
}

/**
 * `produce` makes the tar's chunks; in `spare` it finds chunks handed out earlier that nobody holds
 * any more, to fill again instead of allocating (see `tar` below).
 */
function makeDiff(produce: (spare: Buffer[]) => Promise<Iterable<Buffer>>, options: DiffOptions): LayerDiff {
  let settle!: { resolve: (r: DiffResult) => void; reject: (e: unknown) => void };
  const result = new Promise<DiffResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  result.catch(() => {}); // also reported through the stream
  const compression = options.compression ?? 'none';
  const tarHash = new BackgroundHash();
  let tarSize = 0;
  const spare: Buffer[] = [];
  async function* tar(): AsyncGenerator<Buffer> {
    for (const chunk of await produce(spare)) {
      options.signal?.throwIfAborted();
      tarHash.update(chunk);
      tarSize += chunk.length;
      yield chunk;
      // When compressing, the only readers of a chunk (the hash and the gzip) copy it before asking
      // for the next: the 1 MiB buffer can be filled again. This spares the main isolate 200 MiB
      // of allocations per 200 MB layer, and with them a few full garbage collections.
      if (compression === 'gzip' && chunk.length === OUT_CHUNK && spare.length < SPARE_CHUNKS)
        spare.push(chunk);
    }
  }
  async function* output(): AsyncGenerator<Buffer> {
    let settled = false;
    try {
      if (compression === 'gzip') {
        const outHash = new BackgroundHash();
        try {
          let outSize = 0;
          for await (const chunk of gzipParallel(tar(), { level: options.gzipLevel ?? 1 })) {
            outHash.update(chunk);
            outSize += chunk.length;
            yield chunk;
          }
          const diffID = await tarHash.digest();
          settle.resolve({
            diffID,
            diffSize: tarSize,
            digest: await outHash.digest(),
            size: outSize,
            compression,
          });
        } finally {
          outHash.dispose();
        }
      } else {
        yield* tar();
        const diffID = await tarHash.digest();
        settle.resolve({ diffID, diffSize: tarSize, digest: diffID, size: tarSize, compression });
      }
      settled = true;
    } catch (error) {
      settled = true;
      settle.reject(error);
      throw error;
    } finally {
      tarHash.dispose();
      if (!settled)
        settle.reject(new InternalError('Cannot make layer: the stream was abandoned before its end'));
    }
  }
  // A few MiB of read-ahead: the walk keeps producing while the consumer writes the last chunk.
  return { stream: Readable.from(output(), { objectMode: false, highWaterMark: 4 * OUT_CHUNK }), result };
}

const OUT_CHUNK = 1024 * 1024;
/** Chunks kept for refilling (the writer hands out a few between two pulls of the consumer). */
const SPARE_CHUNKS = 4;
const ZERO_DATE = 0;

/** Accumulates the archive into 1 MiB buffers, reading file data straight into them. */
class TarBuffer {
  #buf: Buffer = Buffer.allocUnsafe(OUT_CHUNK);
  #pos = 0;
  #full: Buffer[] = [];
  /** Chunks handed out before and released by their reader (see makeDiff). */
  readonly #spare: Buffer[];

  constructor(spare: Buffer[]) {
    this.#spare = spare;
  }

  put(data: Buffer): void {
    let offset = 0;
    while (offset < data.length) {
      const n = data.copy(this.#buf, this.#pos, offset);
      offset += n;
      this.#pos += n;
      if (this.#pos === OUT_CHUNK) this.#rotate();
    }
  }

  /**
   * Appends `header`'s blocks; a plain ustar header is written in place when a block fits (it
   * always does: everything is appended in whole blocks and the buffer is a whole number of them).
   */
  putHeader(header: TarHeader): void {
    if (this.#pos + TAR_BLOCK > OUT_CHUNK || !writeTarHeaderInto(header, this.#buf, this.#pos)) {
      this.put(encodeTarHeader(header));
      return;
    }
    this.#pos += TAR_BLOCK;
    if (this.#pos === OUT_CHUNK) this.#rotate();
  }

  /** Appends exactly `size` bytes of `path`; fails if the file changed size meanwhile. */
  putFile(path: string, size: number): void {
    if (size === 0) return;
    const fd = openSync(path, 'r');
    try {
      let left = size;
      while (left > 0) {
        const n = readSync(fd, this.#buf, this.#pos, Math.min(left, OUT_CHUNK - this.#pos), null);
        if (n === 0) throw new FailedPreconditionError(`Cannot make layer: ${path} shrank while being read`);
        left -= n;
        this.#pos += n;
        if (this.#pos === OUT_CHUNK) this.#rotate();
      }
    } finally {
      closeSync(fd);
    }
    this.put(tarPadding(size));
  }

  #rotate(): void {
    this.#full.push(this.#buf);
    this.#buf = this.#spare.pop() ?? Buffer.allocUnsafe(OUT_CHUNK);
    this.#pos = 0;
  }

  /** Completed buffers (each handed out once). */
  take(): Buffer[] {
    const out = this.#full;
    this.#full = [];
    return out;
  }

  end(): Buffer[] {
    this.put(TAR_TRAILER);
    const out = this.take();
    if (this.#pos > 0) out.push(this.#buf.subarray(0, this.#pos));
    return out;
  }
}

/** Writes one filesystem entry (`rel` relative to the layer root). */
class EntryWriter {
  readonly out: TarBuffer;
  #links = new Map<string, string>();
  readonly #epoch: number | undefined;

  constructor(epoch: number | undefined, spare: Buffer[]) {
    this.#epoch = epoch;
    this.out = new TarBuffer(spare);
  }

  entry(rel: string, abs: string, stats: EntryStat, xattrs: XattrMap | undefined): void {
    const type = stats.type;
    if (!type) return; // sockets have no tar form
    const name = type === 'dir' ? `${rel}/` : rel;
    let mtime = Number(stats.mtimeNs / 1_000_000_000n);
    if (stats.mtimeNs < 0n && stats.mtimeNs % 1_000_000_000n !== 0n) mtime -= 1;
    if (this.#epoch !== undefined && mtime > this.#epoch) mtime = this.#epoch;
    const header: TarHeader = {
      name,
      type,
      mode: stats.mode,
      uid: stats.uid,
      gid: stats.gid,
      size: type === 'file' ? stats.size : 0,
      mtime,
      linkname: type === 'symlink' ? readlinkSync(abs) : '',
      devmajor: 0,
      devminor: 0,
      xattrs: layerXattrs(xattrs),
    };
    if (type === 'char' || type === 'block') {
      const rdev = stats.rdev;
      header.devmajor = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
      header.devminor = ((rdev & 0xff) | ((rdev >>> 12) & ~0xff)) >>> 0;
    }
    if (stats.inode !== undefined) {
      const first = this.#links.get(stats.inode);
      if (first !== undefined) {
        header.type = 'link';
        header.linkname = first;
        header.size = 0;
      } else this.#links.set(stats.inode, rel);
    }
    this.out.putHeader(header);
    if (header.type === 'file') this.out.putFile(abs, header.size);
  }

  whiteout(dirRel: string, name: string): void {
    this.#marker(dirRel === '' ? `${WHITEOUT_PREFIX}${name}` : `${dirRel}/${WHITEOUT_PREFIX}${name}`);
  }

  opaque(dirRel: string): void {
    this.#marker(dirRel === '' ? WHITEOUT_OPAQUE : `${dirRel}/${WHITEOUT_OPAQUE}`);
  }

  #marker(name: string): void {
    this.out.putHeader({
      name,
      type: 'file',
      mode: 0,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: ZERO_DATE,
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: NO_XATTRS,
    });
  }
}

/** A directory entry with its metadata; directories carry their sorted children. */
interface Listed {
  name: string;
  abs: string;
  stats: EntryStat;
  children?: Listed[];
}

/** The whole tree under `dirAbs`, sorted by name in each directory. */
function listTree(dirAbs: string): Listed[] {
  const out: Listed[] = [];
  for (const name of readdirSync(dirAbs).sort()) {
    const abs = `${dirAbs}/${name}`;
    const stats = lstatEntry(abs);
    const entry: Listed = { name, abs, stats };
    if (stats.type === 'dir') entry.children = listTree(abs);
    out.push(entry);
  }
  return out;
}

function* upperTar(
  listing: Listed[],
  xattrs: Map<string, XattrMap>,
  epoch: number | undefined,
  spare: Buffer[],
): Generator<Buffer> {
  const writer = new EntryWriter(epoch, spare);
  const walk = function* (dirRel: string, entries: Listed[]): Generator<Buffer> {
    const children: Listed[] = [];
    for (const entry of entries) {
      const attrs = xattrs.get(entry.abs);
      const { stats } = entry;
      if (
        (stats.type === 'char' && stats.rdev === 0) ||
        (stats.type === 'file' && attrs?.has(XWHITEOUT_XATTR))
      ) {
        writer.whiteout(dirRel, entry.name);
        continue;
      }
      checkOverlayFeatures(entry.abs, attrs);
      children.push(entry);
    }
    for (const { name, abs, stats, children: grandchildren } of children) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const attrs = xattrs.get(abs);
      writer.entry(rel, abs, stats, attrs);
      if (grandchildren) {
        if (attrs?.get(OVERLAY_OPAQUE_XATTR)?.toString() === 'y') writer.opaque(rel);
        yield* writer.out.take();
        yield* walk(rel, grandchildren);
      }
      yield* writer.out.take();
    }
  };
  yield* walk('', listing);
  yield* writer.out.end();
}

const XWHITEOUT_XATTR = `${OVERLAY_XATTR_PREFIX}whiteout`;

function checkOverlayFeatures(abs: string, attrs: XattrMap | undefined): void {
  if (!attrs) return;
  for (const feature of ['redirect', 'metacopy']) {
    if (attrs.has(`${OVERLAY_XATTR_PREFIX}${feature}`)) {
      throw new FailedPreconditionError(
        `Cannot make layer: ${abs} uses overlayfs ${feature}, which a layer cannot express (diff the mounted trees instead)`,
      );
    }
  }
}

/** One node of a two-tree diff: what to write, in order. */
interface PlanNode {
  rel: string;
  kind: 'entry' | 'whiteout' | 'opaque';
  /** Entry changed (or added) itself; unchanged directories and hardlink siblings come along as needed. */
  changed: boolean;
  stats?: EntryStat;
  children?: PlanNode[];
  /** For entries unchanged but for their xattrs, not read yet: the two paths to compare. */
  compare?: { lower: string; upper: string };
}

interface Plan {
  nodes: PlanNode[];
  /** dev:ino of hardlinked files with at least one changed path: every path of them goes in. */
  changedInodes: Set<string>;
  /** Entries whose only possible change is in their xattrs (see `settleXattrChanges`). */
  pending: PlanNode[];
}

function planTreeDiff(lowerDir: string | undefined, upperDir: string): Plan {
  const lowerRoot = lowerDir?.replace(/\/+$/, '');
  const upperRoot = upperDir.replace(/\/+$/, '');
  const changedInodes = new Set<string>();
  const pending: PlanNode[] = [];
  const walk = (dirRel: string, lowerExists: boolean): PlanNode[] => {
    const upperAbs = dirRel === '' ? upperRoot : `${upperRoot}/${dirRel}`;
    const lowerAbs =
      lowerRoot === undefined ? undefined : dirRel === '' ? lowerRoot : `${lowerRoot}/${dirRel}`;
    const upperNames = readdirSync(upperAbs).sort();
    const lowerNames = lowerExists && lowerAbs ? new Set(readdirSync(lowerAbs)) : new Set<string>();
    const nodes: PlanNode[] = [];
    const upperSet = new Set(upperNames);
    for (const name of [...lowerNames].sort()) {
      if (!upperSet.has(name)) nodes.push({ rel: join(dirRel, name), kind: 'whiteout', changed: true });
    }
    for (const name of upperNames) {
      const rel = join(dirRel, name);
      const upperPath = `${upperAbs}/${name}`;
      const stats = lstatEntry(upperPath);
      const lowerPath = `${lowerAbs}/${name}`;
      const lower = lowerNames.has(name) ? lstatEntry(lowerPath) : undefined;
      const changed = !lower || lower.type !== stats.type || !sameEntry(lower, stats, lowerPath, upperPath);
      const node: PlanNode = { rel, kind: 'entry', changed, stats };
      if (!changed) {
        node.compare = { lower: lowerPath, upper: upperPath };
        pending.push(node);
      }
      if (stats.type === 'dir') node.children = walk(rel, lower?.type === 'dir');
      if (changed && stats.inode !== undefined) changedInodes.add(stats.inode);
      nodes.push(node);
    }
    return nodes;
  };
  return { nodes: walk('', lowerRoot !== undefined), changedInodes, pending };
}

/** Marks as changed the entries whose xattrs differ, once both trees' xattrs are known. */
function settleXattrChanges(plan: Plan, lower: Map<string, XattrMap>, upper: Map<string, XattrMap>): void {
  for (const node of plan.pending) {
    const { compare, stats } = node;
    if (!compare || sameXattrs(lower.get(compare.lower), upper.get(compare.upper))) continue;
    node.changed = true;
    if (stats!.inode !== undefined) plan.changedInodes.add(stats!.inode);
  }
  plan.pending = [];
}

function* planTar(
  plan: Plan,
  upperDir: string,
  xattrs: Map<string, XattrMap>,
  epoch: number | undefined,
  spare: Buffer[],
): Generator<Buffer> {
  const root = upperDir.replace(/\/+$/, '');
  const writer = new EntryWriter(epoch, spare);
  const included = (node: PlanNode): boolean => {
    if (node.kind !== 'entry' || node.changed) return true;
    const stats = node.stats!;
    if (stats.type !== 'dir') return stats.inode !== undefined && plan.changedInodes.has(stats.inode);
    return node.children!.some(included);
  };
  const emit = function* (nodes: PlanNode[], dirRel: string): Generator<Buffer> {
    for (const node of nodes) {
      if (node.kind !== 'whiteout') continue;
      writer.whiteout(dirRel, node.rel.slice(node.rel.lastIndexOf('/') + 1));
    }
    for (const node of nodes) {
      if (node.kind !== 'entry' || !included(node)) continue;
      const abs = `${root}/${node.rel}`;
      writer.entry(node.rel, abs, node.stats!, xattrs.get(abs));
      yield* writer.out.take();
      if (node.children) yield* emit(node.children, node.rel);
    }
  };
  yield* emit(plan.nodes, '');
  yield* writer.out.end();
}

/** Same metadata and content (xattrs are compared later, see `settleXattrChanges`). */
function sameEntry(a: EntryStat, b: EntryStat, aPath: string, bPath: string): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.mtimeNs !== b.mtimeNs) return false;
  switch (a.type) {
    case 'symlink':
      return readlinkSync(aPath) === readlinkSync(bPath);
    case 'char':
    case 'block':
      return a.rdev === b.rdev;
    case 'file':
      // Whole-second mtimes (every file a tar put there) cannot tell a same-size edit apart: look inside.
      return a.size === b.size && (a.mtimeNs % 1_000_000_000n !== 0n || sameContent(aPath, bPath, a.size));
    default:
      return true;
  }
}

function sameXattrs(a: XattrMap | undefined, b: XattrMap | undefined): boolean {
  const x = layerXattrs(a);
  const y = layerXattrs(b);
  if (x.size !== y.size) return false;
  for (const [k, v] of x) if (!y.get(k)?.equals(v)) return false;
  return true;
}

function sameContent(aPath: string, bPath: string, size: number): boolean {
  const fa = openSync(aPath, 'r');
  const fb = openSync(bPath, 'r');
  const ba = Buffer.allocUnsafe(Math.min(size, 1 << 20) || 1);
  const bb = Buffer.allocUnsafe(ba.length);
  try {
    let left = size;
    while (left > 0) {
      const want = Math.min(left, ba.length);
      const na = readFully(fa, ba, want);
      const nb = readFully(fb, bb, want);
      if (na !== want || nb !== want || !ba.subarray(0, want).equals(bb.subarray(0, want))) return false;
      left -= want;
    }
    return true;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

function readFully(fd: number, buf: Buffer, want: number): number {
  let got = 0;
  while (got < want) {
    const n = readSync(fd, buf, got, want - got, null);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Shared by every entry without extended attributes (read only). */
const NO_XATTRS: XattrMap = new Map();

function layerXattrs(xattrs: XattrMap | undefined): XattrMap {
  if (!xattrs || xattrs.size === 0) return NO_XATTRS;
  const out = new Map<string, Buffer>();
  for (const [k, v] of xattrs) if (isLayerXattr(k)) out.set(k, v);
  return out;
}

/**
 * What the diff needs of an lstat, kept small: a whole tree of these stays in memory while
 * getfattr runs, and full BigIntStats objects made the garbage collector a quarter of the work.
 */
interface EntryStat {
  /** undefined for sockets (no tar form). */
  type: Exclude<TarEntryType, 'link'> | undefined;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Nanoseconds: the two-tree diff compares them exactly. */
  mtimeNs: bigint;
  rdev: number;
  /** `dev:ino` of a non-directory with several links, else undefined. */
  inode: string | undefined;
}

/**
 * lstat of a listed entry. Node decodes file names as UTF-8, so a name that is not valid UTF-8
 * comes back with U+FFFD and cannot be found again: say so instead of a bare ENOENT.
 */
function lstatEntry(path: string): EntryStat {
  let stats: BigIntStats;
  try {
    stats = lstatSync(path, { bigint: true });
  } catch (error) {
    if (isErrno(error, 'ENOENT') && path.includes('\uFFFD')) {
      throw new FailedPreconditionError(
        `Cannot make layer: file name ${JSON.stringify(path)} is not valid UTF-8 (not supported)`,
        { cause: error },
      );
    }
    throw error;
  }
  const type = typeOf(stats);
  return {
    type,
    mode: Number(stats.mode) & 0o7777,
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    size: Number(stats.size),
    mtimeNs: stats.mtimeNs,
    rdev: Number(stats.rdev),
    inode: type !== 'dir' && stats.nlink > 1n ? `${stats.dev}:${stats.ino}` : undefined,
  };
}

function typeOf(stats: BigIntStats): Exclude<TarEntryType, 'link'> | undefined {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  if (stats.isFIFO()) return 'fifo';
  return undefined;
}

function join(dirRel: string, name: string): string {
  return dirRel === '' ? name : `${dirRel}/${name}`;
}
