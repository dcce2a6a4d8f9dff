/**
 * The layer of a reused copy (copy-reuse.ts), made from the layer of the copy it reused instead of
 * by reading its whole tree again: the new upper directory has the same entries as the old one,
 * and every file the clone hard-linked is the very inode the old layer was made from, so its tar
 * entry (header, pax records, bytes, padding) is taken from the old layer blob as it is. Every
 * other entry (the files copied again, the directories and symlinks, which were made again with
 * new times) is encoded from the new tree the way the layer writer (image/layer/diff.ts) encodes
 * an upper directory's entry: same header fields, same mtime rounding and SOURCE_DATE_EPOCH clamp,
 * no extended attributes (the clone refused any tree that had some in a layer). So the blob is
 * byte for byte what diffing the new upper directory gives (the copy-reuse tests compare the two),
 * for one sequential read of the old blob instead of an open, a read and an lstat per file.
 *
 * The old blob must be the layer of the old tree and the trees must match entry for entry: any
 * entry it cannot account for (a type that differs, a name missing from the new tree, a count
 * that does not add up) throws, and the caller diffs the directory instead.
 *
 * @example
 * const { digest } = await content.ingest(spliceCopyLayer(blob, upperDir, clone.linkedPaths, clone.entries, epoch));
 */
import { type BigIntStats, closeSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import {
  decodePaxRecords,
  encodeTarHeader,
  TAR_BLOCK,
  TAR_TRAILER,
  type TarEntryType,
  tarPadding,
} from '../../image/layer/tar-format.ts';

/** The old layer does not match the new tree: diff the tree instead. */
export class SpliceError extends Error {
  override readonly name = 'SpliceError';
}

const READ_SIZE = 1024 * 1024;

/** Sequential reads of a file in fresh 1 MiB buffers: slices handed out are never overwritten. */
class BlobReader {
  readonly #fd: number;
  #buf = Buffer.alloc(0);
  #pos = 0;

  constructor(path: string) {
    this.#fd = openSync(path, 'r');
  }

  /** Exactly `n` bytes, as slices of the read buffers. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (n > 0) {
      if (this.#pos === this.#buf.length) {
        const buf = Buffer.allocUnsafe(READ_SIZE);
        const got = readSync(this.#fd, buf, 0, READ_SIZE, null);
        if (got === 0) throw new SpliceError('the old layer ends in the middle of an entry');
        this.#buf = buf.subarray(0, got);
        this.#pos = 0;
      }
      const k = Math.min(n, this.#buf.length - this.#pos);
      out.push(this.#buf.subarray(this.#pos, this.#pos + k));
      this.#pos += k;
      n -= k;
    }
    return out;
  }

  block(n: number): Buffer {
    const parts = this.take(n);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** True when nothing is left. */
  atEnd(): boolean {
    if (this.#pos < this.#buf.length) return false;
    const probe = Buffer.allocUnsafe(1);
    return readSync(this.#fd, probe, 0, 1, null) === 0;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

const TYPES: Record<number, TarEntryType> = {
  48: 'file',
  49: 'link',
  50: 'symlink',
  51: 'char',
  52: 'block',
  53: 'dir',
  54: 'fifo',
};

function octal(block: Buffer, offset: number, width: number): number {
  const text = block.toString('latin1', offset, offset + width).replace(/[\0 ]+$/, '');
  const value = Number.parseInt(text === '' ? '0' : text, 8);
  if (!Number.isSafeInteger(value)) throw new SpliceError('a header field of the old layer is not octal');
  return value;
}

function cString(block: Buffer, offset: number, width: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end < 0 || end > offset + width ? offset + width : end);
}

function typeOf(stats: BigIntStats): TarEntryType | undefined {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  return undefined;
}

/**
 * The new layer as a stream (what ingest writes and hashes): entries of `oldBlob` whose path is in
 * `linked` as they are, the others encoded from `newRoot`. `entries` is how many entries the new
 * tree has (its root excluded). Consecutive entries taken as they are lie side by side in the
 * read buffers, so they go out as one slice of up to 1 MiB, copied nowhere.
 */
export async function* spliceCopyLayer(
  oldBlob: string,
  newRoot: string,
  linked: ReadonlySet<string>,
  entries: number,
  epoch: number | undefined,
): AsyncGenerator<Buffer> {
  let run: Buffer | undefined;
  for (const piece of entriesOf(oldBlob, newRoot, linked, entries, epoch)) {
    if (piece.length === 0) continue;
    if (run && run.buffer === piece.buffer && run.byteOffset + run.length === piece.byteOffset) {
      run = Buffer.from(run.buffer, run.byteOffset, run.length + piece.length);
      continue;
    }
    if (run) yield run;
    run = piece;
  }
  if (run) yield run;
}

function* entriesOf(
  oldBlob: string,
  newRoot: string,
  linked: ReadonlySet<string>,
  entries: number,
  epoch: number | undefined,
): Generator<Buffer> {
  const reader = new BlobReader(oldBlob);
  let seen = 0;
  let reused = 0;
  try {
    for (;;) {
      let header = reader.block(TAR_BLOCK);
      if (header.every((b) => b === 0)) {
        if (!reader.block(TAR_BLOCK).every((b) => b === 0) || !reader.atEnd())
          throw new SpliceError('the old layer goes on after its end');
        break;
      }
      const raw: Buffer[] = [header];
      let path: string | undefined;
      let paxSize: number | undefined;
      if (header[156] === 0x78) {
        const size = octal(header, 124, 12);
        const records = reader.take(size + tarPadding(size).length);
        raw.push(...records);
        for (const [key, value] of decodePaxRecords(Buffer.concat(records).subarray(0, size))) {
          if (key === 'path') path = value.toString('utf8');
          else if (key === 'size') paxSize = Number(value.toString('latin1'));
          else if (key !== 'linkpath' && key !== 'uid' && key !== 'gid' && key !== 'mtime')
            throw new SpliceError(`the old layer has a pax record ${key}`);
        }
        header = reader.block(TAR_BLOCK);
        raw.push(header);
      }
      if (header.toString('latin1', 257, 265) !== 'ustar\x0000')
        throw new SpliceError('the old layer is not the layer writer’s ustar');
      const type = TYPES[header[156]!];
      const prefix = cString(header, 345, 155);
      const name = path ?? (prefix === '' ? cString(header, 0, 100) : `${prefix}/${cString(header, 0, 100)}`);
      const size = type === 'file' ? (paxSize ?? octal(header, 124, 12)) : 0;
      const body = size + tarPadding(size).length;
      const rel = name.endsWith('/') ? name.slice(0, -1) : name;
      seen++;
      if (type === 'file' && linked.has(rel)) {
        reused++;
        yield* raw;
        yield* reader.take(body);
        continue;
      }
      reader.take(body); // skipped: made again from the new tree
      yield* encodeEntry(rel, `${newRoot}/${rel}`, type, epoch);
    }
  } finally {
    reader.close();
  }
  if (seen !== entries || reused !== linked.size)
    throw new SpliceError(
      `the old layer has ${seen} entries (${reused} linked) where the new tree has ${entries} (${linked.size})`,
    );
  yield TAR_TRAILER;
}

/** One entry of the new tree, encoded as diff.ts's EntryWriter encodes an upper directory's. */
function* encodeEntry(
  rel: string,
  abs: string,
  expected: TarEntryType | undefined,
  epoch: number | undefined,
): Generator<Buffer> {
  let stats: BigIntStats;
  try {
    stats = lstatSync(abs, { bigint: true });
  } catch (error) {
    throw new SpliceError(`/${rel} is in the old layer but not in the new tree`, { cause: error });
  }
  const type = typeOf(stats);
  if (type === undefined || type !== expected)
    throw new SpliceError(`/${rel} is a ${type ?? 'special file'} now, a ${expected} in the old layer`);
  let mtime = Number(stats.mtimeNs / 1_000_000_000n);
  if (stats.mtimeNs < 0n && stats.mtimeNs % 1_000_000_000n !== 0n) mtime -= 1;
  if (epoch !== undefined && mtime > epoch) mtime = epoch;
  const size = type === 'file' ? Number(stats.size) : 0;
  yield encodeTarHeader({
    name: type === 'dir' ? `${rel}/` : rel,
    type,
    mode: Number(stats.mode) & 0o7777,
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    size,
    mtime,
    linkname: type === 'symlink' ? readlinkSync(abs) : '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
  });
  if (type !== 'file' || size === 0) return;
  const fd = openSync(abs, 'r');
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, READ_SIZE));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) throw new SpliceError(`/${rel} shrank while being read`);
      left -= n;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
  yield tarPadding(size);
}
